/**
 * Random SELECTs (test/corpus/suites.ts) against the default Postgres:
 * embedded 17, or OUTPOST_PG_BIN.
 */
import { randomSuite } from './corpus/suites.js';

randomSuite();
