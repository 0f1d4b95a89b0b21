/** The ORM corpus (test/corpus/orm/) against Debian's Postgres 15 (PG15_BIN). */
import { ormSuite } from './corpus/orm/suite.js';
import { PG15_BIN } from './helpers/postgres.js';

ormSuite(PG15_BIN, ' (Postgres 15)');
