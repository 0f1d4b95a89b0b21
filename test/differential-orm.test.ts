/** The ORM corpus (test/corpus/orm/) against the default Postgres: embedded 17, or OUTPOST_PG_BIN. */
import { ormSuite } from './corpus/orm/suite.js';

ormSuite();
