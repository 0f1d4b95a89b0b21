/** Random SELECTs (test/corpus/suites.ts) against Debian's Postgres 15 (PG15_BIN). */
import { randomSuite } from './corpus/suites.js';
import { PG15_BIN } from './helpers/postgres.js';

randomSuite(PG15_BIN, ' (Postgres 15)');
