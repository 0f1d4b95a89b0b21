/**
 * Postgres's regression SELECTs (test/corpus/regress.ts) against the default
 * Postgres (embedded 17, or OUTPOST_PG_BIN): every local answer and every
 * error equals upstream's. CI runs a deterministic third of the statements
 * per major (OUTPOST_REGRESS_STRIDE, default 3; 1 runs all of them, as
 * `npm run regress` does).
 */
import { regressSuite } from './corpus/regress.js';

regressSuite();
