/**
 * The differential corpus (test/corpus/suites.ts) against the default
 * Postgres: embedded 17, or OUTPOST_PG_BIN.
 */
import { corpusSuite } from './corpus/suites.js';

corpusSuite();
