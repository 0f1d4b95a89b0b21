/** Postgres's regression SELECTs (test/corpus/regress.ts) against Debian's Postgres 15 (PG15_BIN). */
import { regressSuite } from './corpus/regress.js';
import { PG15_BIN } from './helpers/postgres.js';

regressSuite(PG15_BIN, ' (Postgres 15)');
