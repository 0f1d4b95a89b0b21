/** The differential corpus (test/corpus/suites.ts) against Debian's Postgres 15 (PG15_BIN). */
import { corpusSuite } from './corpus/suites.js';
import { PG15_BIN } from './helpers/postgres.js';

corpusSuite(PG15_BIN, ' (Postgres 15)');
