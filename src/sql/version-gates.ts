/**
 * What the upstream's Postgres version accepts. The parser (libpg-query) is
 * Postgres 18's grammar, so it accepts constructs an older upstream rejects
 * (or reads differently): a local answer to them would be a wrong answer
 * where upstream raises an error. Each entry is the first `server_version_num`
 * that has the construct; below it the statement is forwarded so that
 * upstream answers (or fails) itself.
 *
 * Sources: the Postgres 16, 17 and 18 release notes (grammar, input syntax,
 * new functions). Numeric literal forms of 16 (0x1F, 1_000) are checked on
 * the text by the router (Router.classifyUncached); '+infinity' date and
 * timestamp input (16) is never local (pgtypes.ts).
 */
import { nodeKind } from './parse.js';

/** Version assumed when the upstream's is unknown: gates everything newer than the oldest supported. */
export const UNKNOWN_VERSION_NUM = 0;

/** Postgres 16: non-decimal integer literals (0x1F, 0o17, 0b101) and underscores (1_000). */
export const NUMERIC_LITERAL_FORMS = 160000;

/** Postgres 16: a subquery or VALUES in FROM without an alias. */
export const SUBQUERY_WITHOUT_ALIAS = 160000;

/** Parse-tree node kinds that need a newer Postgres. */
const NODES: ReadonlyMap<string, number> = new Map([
  // Postgres 16: SQL/JSON constructors and IS JSON.
  ['JsonObjectConstructor', 160000],
  ['JsonArrayConstructor', 160000],
  ['JsonArrayQueryConstructor', 160000],
  ['JsonObjectAgg', 160000],
  ['JsonArrayAgg', 160000],
  ['JsonIsPredicate', 160000],
  // Postgres 17: SQL/JSON query functions, JSON_TABLE, JSON()/JSON_SCALAR()/JSON_SERIALIZE().
  ['JsonFuncExpr', 170000],
  ['JsonTable', 170000],
  ['JsonParseExpr', 170000],
  ['JsonScalarExpr', 170000],
  ['JsonSerializeExpr', 170000],
]);

/**
 * Functions (by name, and for overloads of an older name by argument count)
 * that need a newer Postgres: `42883` upstream below that version.
 */
const FUNCTIONS: ReadonlyMap<string, { version: number; arities?: readonly number[] }> = new Map([
  // Postgres 16
  ['any_value', { version: 160000 }],
  ['array_sample', { version: 160000 }],
  ['array_shuffle', { version: 160000 }],
  ['random_normal', { version: 160000 }],
  ['erf', { version: 160000 }],
  ['erfc', { version: 160000 }],
  ['date_add', { version: 160000 }],
  ['date_subtract', { version: 160000 }],
  ['pg_input_is_valid', { version: 160000 }],
  ['pg_input_error_info', { version: 160000 }],
  // Postgres 17
  ['random', { version: 170000, arities: [2] }],
  ['to_bin', { version: 170000 }],
  ['to_oct', { version: 170000 }],
  ['uuid_extract_timestamp', { version: 170000 }],
  ['uuid_extract_version', { version: 170000 }],
  // Postgres 18
  ['uuidv7', { version: 180000 }],
  ['uuidv4', { version: 180000 }],
  ['casefold', { version: 180000 }],
  ['array_sort', { version: 180000 }],
  ['array_reverse', { version: 180000 }],
  ['crc32', { version: 180000 }],
  ['crc32c', { version: 180000 }],
  ['gamma', { version: 180000 }],
  ['lgamma', { version: 180000 }],
]);

/** Why a call of `name` with `arity` arguments is newer than the upstream, if it is. */
export function functionTooNew(name: string, arity: number, versionNum: number): string | undefined {
  const f = FUNCTIONS.get(name);
  if (!f || versionNum >= f.version) return undefined;
  if (f.arities && !f.arities.includes(arity)) return undefined;
  return `${name}() needs Postgres ${f.version / 10000}`;
}

/** Why a statement uses syntax newer than the upstream, if it does (a walk over the whole tree). */
export function syntaxTooNew(stmt: unknown, versionNum: number): string | undefined {
  if (versionNum >= 180000) return undefined;
  const stack: unknown[] = [stmt];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 1) {
      const [kind] = nodeKind(v as never);
      const min = NODES.get(kind);
      if (min !== undefined && versionNum < min) return `${kind} needs Postgres ${min / 10000}`;
      if (kind === 'FuncCall') {
        const f = (v as { FuncCall: { funcname?: { String?: { sval?: string } }[]; args?: unknown[] } })
          .FuncCall;
        const names = f.funcname ?? [];
        const last = names[names.length - 1]?.String?.sval;
        const schema = names.length === 2 ? names[0]?.String?.sval : undefined;
        if (last !== undefined && (schema === undefined || schema === 'pg_catalog')) {
          const why = functionTooNew(last, f.args?.length ?? 0, versionNum);
          if (why) return why;
        }
      }
      if (
        kind === 'RangeSubselect' &&
        versionNum < SUBQUERY_WITHOUT_ALIAS &&
        (v as { RangeSubselect: { alias?: unknown } }).RangeSubselect.alias === undefined
      ) {
        return `subquery in FROM without an alias needs Postgres ${SUBQUERY_WITHOUT_ALIAS / 10000}`;
      }
    }
    for (const [, x] of entries) if (x !== null && typeof x === 'object') stack.push(x);
  }
  return undefined;
}
