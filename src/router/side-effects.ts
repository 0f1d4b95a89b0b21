/**
 * What a statement may do besides reading: write replicated data (so the
 * session's next local reads wait for the replica), or run user code, which
 * can change any session state (`set_config`, `SET ROLE`, temporary tables)
 * without the statement saying so.
 */
import type { ReplicaTable } from '../replica/schema.js';
import { type Node, nodeKind } from '../sql/parse.js';

/**
 * Functions a SELECT may call without writing anything replicated: common
 * built-ins (in pg_catalog). Any other function may be a user function that
 * writes, so forwarding the statement fences the session's next local reads.
 */
const READ_ONLY_FUNCTIONS = new Set(
  `count sum avg min max bool_and bool_or every string_agg array_agg json_agg jsonb_agg json_object_agg
   jsonb_object_agg row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
   nth_value lower upper length char_length octet_length substring substr position strpos replace trim btrim
   ltrim rtrim concat concat_ws left right split_part lpad rpad repeat reverse initcap format md5 to_char
   to_number to_date to_timestamp regexp_replace regexp_match regexp_matches starts_with abs round floor ceil
   ceiling trunc mod power sqrt exp ln log sign greatest least random now date_trunc date_part extract age
   make_date make_timestamp make_interval clock_timestamp statement_timestamp transaction_timestamp timezone
   json_build_object jsonb_build_object json_build_array jsonb_build_array to_json to_jsonb jsonb_array_length
   json_array_length jsonb_typeof jsonb_extract_path_text json_extract_path_text jsonb_set array_length
   array_position unnest cardinality array_to_string string_to_array generate_series version current_setting
   pg_typeof coalesce nullif current_database current_schema current_schemas pg_backend_pid pg_my_temp_schema
   has_table_privilege has_column_privilege has_schema_privilege has_database_privilege pg_has_role`.split(
    /\s+/,
  ),
);

/** Whether a statement could change replicated data (conservatively: yes unless shown otherwise). */
export function mayWrite(tree: unknown): boolean {
  if (Array.isArray(tree)) return tree.some(mayWrite);
  if (tree === null || typeof tree !== 'object') return false;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'InsertStmt' || key === 'UpdateStmt' || key === 'DeleteStmt' || key === 'MergeStmt')
      return true;
    if (key === 'intoClause' && value) return true;
    if (key === 'FuncCall') {
      const names = ((value as { funcname?: Node[] }).funcname ?? []).map((n) =>
        'String' in n ? (n.String.sval ?? '') : '',
      );
      const name = names[names.length - 1] ?? '';
      if (
        names.length > 2 ||
        (names.length === 2 && names[0] !== 'pg_catalog') ||
        !READ_ONLY_FUNCTIONS.has(name)
      ) {
        return true;
      }
    }
    if (mayWrite(value)) return true;
  }
  return false;
}

/** Statement kinds that never run user code (no functions, triggers, rules or policies). */
const NO_USER_CODE = new Set([
  'VariableShowStmt',
  'VariableSetStmt',
  'TransactionStmt',
  'ListenStmt',
  'UnlistenStmt',
  'NotifyStmt',
  'DeallocateStmt',
  'PrepareStmt',
  'DiscardStmt',
]);

/**
 * Whether the statements may run user code, which can change any session
 * state (`set_config`, `SET ROLE`, temporary tables, ...) without the
 * statement saying so: a function other than a known built-in, a relation
 * that is not a replicated table (a view may call anything), DML (triggers,
 * rules, defaults), DO, CALL, DDL (event triggers), ... Also the replicated
 * tables a SELECT reads, whose row-level security policies may call functions.
 */
export function statementFacts(
  stmts: Node[],
  findTable: (schema: string, name: string) => ReplicaTable | undefined,
): { userCode?: string; tables: ReplicaTable[] } {
  const tables: ReplicaTable[] = [];
  for (const stmt of stmts) {
    const [kind] = nodeKind(stmt);
    const reset = settingsReread(stmt);
    if (reset !== undefined) return { userCode: reset, tables };
    if (NO_USER_CODE.has(kind)) continue;
    if (kind !== 'SelectStmt') return { userCode: `statement ${kind}`, tables };
    if (mayWrite(stmt)) return { userCode: 'function that may have side effects', tables };
    const ctes = new Set<string>();
    collectCteNames(stmt, ctes);
    const unknown = unknownRelation(stmt, ctes, findTable, tables);
    if (unknown !== undefined)
      return { userCode: `relation ${unknown} not replicated (may be a view)`, tables };
  }
  return { tables };
}

/**
 * Statements that change or reset search_path (any form, SET LOCAL too),
 * all settings (RESET ALL, DISCARD ALL): not user code, but what they leave
 * is read back the same way (src/server/state-check.ts), since Outpost does
 * not evaluate the value itself.
 */
function settingsReread(stmt: Node): string | undefined {
  const [kind, body] = nodeKind(stmt);
  if (kind === 'DiscardStmt') {
    return (body as { target?: string }).target === 'DISCARD_ALL' ? 'DISCARD ALL' : undefined;
  }
  if (kind !== 'VariableSetStmt') return undefined;
  const s = body as { kind?: string; name?: string };
  if (s.kind === 'VAR_RESET_ALL') return 'RESET ALL';
  return (s.name ?? '').toLowerCase() === 'search_path' ? 'SET search_path' : undefined;
}

function collectCteNames(tree: unknown, out: Set<string>): void {
  if (Array.isArray(tree)) {
    for (const t of tree) collectCteNames(t, out);
    return;
  }
  if (tree === null || typeof tree !== 'object') return;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'CommonTableExpr') out.add((value as { ctename?: string }).ctename ?? '');
    collectCteNames(value, out);
  }
}

/** The first relation that is neither a replicated table, a CTE nor a system catalog; collects the tables. */
function unknownRelation(
  tree: unknown,
  ctes: ReadonlySet<string>,
  findTable: (schema: string, name: string) => ReplicaTable | undefined,
  tables: ReplicaTable[],
): string | undefined {
  if (Array.isArray(tree)) {
    for (const t of tree) {
      const u = unknownRelation(t, ctes, findTable, tables);
      if (u !== undefined) return u;
    }
    return undefined;
  }
  if (tree === null || typeof tree !== 'object') return undefined;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'RangeVar') {
      const r = value as { schemaname?: string; relname?: string };
      const name = r.relname ?? '';
      const schema = r.schemaname;
      if (schema === undefined || schema === '') {
        if (ctes.has(name) || name.startsWith('pg_')) continue;
        const t = findTable('public', name);
        if (!t) return name;
        tables.push(t);
      } else {
        if (schema === 'pg_catalog' || schema === 'information_schema') continue;
        const t = findTable(schema, name);
        if (!t) return `${schema}.${name}`;
        tables.push(t);
      }
      continue;
    }
    const u = unknownRelation(value, ctes, findTable, tables);
    if (u !== undefined) return u;
  }
  return undefined;
}
