/**
 * A static bound on the work of a SQLite plan, from its EXPLAIN QUERY PLAN:
 * the loop nest, where each loop visits at most one row (a lookup of a
 * whole key), at most the biggest group of an index prefix (an equality
 * lookup on part of an index, a range after such a prefix), or at most the
 * table (a scan, a range, an automatic index). With row counts and group
 * sizes known for the replica's state a statement is about to read, the
 * worst case of rows visited is a product of those figures: a statement
 * whose worst case is small runs on the proxy's thread (src/exec/inline.ts)
 * without being able to hold it long, whatever its parameters.
 *
 * Anything the parser does not know (a recursive CTE, a virtual table, a new
 * kind of plan line) makes the plan unbounded: it runs in an executor.
 */
import type Database from 'better-sqlite3';

/** What one loop visits per invocation, at most. */
export type Factor =
  | { kind: 'one' }
  /** Every row of the table. */
  | { kind: 'rows'; table: string }
  /** The largest group of rows sharing the first `columns` columns of `index`. */
  | { kind: 'group'; table: string; index: string; columns: string[] }
  /** The rows a materialised subquery or co-routine produces. */
  | { kind: 'sub'; name: string };

export type CostNode =
  | { t: 'loop'; factor: Factor }
  /** A temp B-tree (ORDER BY, GROUP BY, DISTINCT): every row so far goes through it once more. */
  | { t: 'sort' }
  /** A subquery run once, or once per row of its select when correlated. */
  | { t: 'sub'; correlated: boolean; body: CostNode[] }
  /** MATERIALIZE / CO-ROUTINE: run once, its rows read by a later loop named `name`. */
  | { t: 'define'; name: string; body: CostNode[] }
  /** COMPOUND QUERY's parts, or MULTI-INDEX OR's indexes: each runs, their rows add up. */
  | { t: 'parts'; parts: CostNode[][] };

/** Facts about the replica's state: undefined for a factor not known. */
export type Facts = (factor: Factor) => number | undefined;

interface Line {
  id: number;
  parent: number;
  detail: string;
}

/**
 * Functions whose cost depends on argument values rather than on the rows
 * visited (repeat('x', 1e9), a backtracking pattern, a set-returning
 * function of a parameter, string aggregation; lpad/rpad, array_fill and
 * char(n) build a value as long as a length argument says, factorial's
 * work grows with n, a bit(n) cast pads to n, numeric ln/exp/power/sqrt
 * work to as many digits as the inputs' scale and the result's size ask): their statements are not
 * bounded by counting rows. A function added to the compiler whose work
 * grows with an argument's value belongs here.
 */
const VALUE_COST =
  /\b(?:outpost_(?:srf_\w*|recursion_\w*|lateral_\w*|repeat|like|ilike|ilike_mapped|format|to_char|to_number|string_to_array|split_part|ordered_agg|json_path|jsonb_path|text_pad|array_fill|numeric_factorial|numeric_math|bpchar_explicit|bit_resize)|group_concat|string_agg|printf|format|zeroblob|randomblob|replace|like|glob|regexp)\s*\(|\b(?:LIKE|GLOB|REGEXP|MATCH|RECURSIVE)\b/i;

/** `t AS a` in the compiled text: EXPLAIN QUERY PLAN names loops by alias. */
const ALIAS = /("(?:[^"]|"")+"|[A-Za-z_]\w*) AS ([A-Za-z_]\w*)/g;

const LOOP =
  /^(SCAN|SEARCH) ("(?:[^"]|"")+"|\(subquery-\d+\)|\S+)(?: EXISTS)?(?: USING (.*?))?(?: LEFT-JOIN| RIGHT-JOIN)?$/;

/** The loop nest of `sql` as SQLite plans it now, or false when it cannot be bounded. */
export function costShape(db: Database.Database, sql: string): CostNode[] | false {
  if (VALUE_COST.test(sql)) return false;
  let lines: Line[];
  try {
    const names = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1] as string, null]));
    lines = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(names) as Line[];
  } catch {
    return false;
  }
  const aliases = new Map<string, string>();
  for (const m of sql.matchAll(ALIAS)) {
    const table = m[1] as string;
    aliases.set(m[2] as string, table.startsWith('"') ? table.slice(1, -1).replace(/""/g, '"') : table);
  }
  const children = new Map<number, Line[]>();
  for (const line of lines) {
    const list = children.get(line.parent);
    if (list) list.push(line);
    else children.set(line.parent, [line]);
  }
  const defined = new Set<string>();
  const manyValues = /\bIN\s*\(|\bOR\b/i.test(sql);
  const indexColumns = (index: string): string[] | undefined => {
    try {
      const cols = db.pragma(`index_info(${JSON.stringify(index)})`) as { name: string | null }[];
      if (cols.some((c) => c.name === null)) return undefined;
      return cols.map((c) => c.name as string);
    } catch {
      return undefined;
    }
  };
  const tableOf = (name: string): string | undefined => {
    const table = aliases.get(name) ?? name;
    const row = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(table);
    return row === undefined ? undefined : table;
  };

  const factorOf = (detail: string): Factor | undefined => {
    const m = LOOP.exec(detail);
    if (!m) return undefined;
    const [, how, rawName, using] = m as unknown as [string, string, string, string | undefined];
    const name = rawName.startsWith('"') ? rawName.slice(1, -1).replace(/""/g, '"') : rawName;
    if (defined.has(name)) return { kind: 'sub', name };
    const table = tableOf(name);
    if (table === undefined) return undefined;
    if (how === 'SCAN') return { kind: 'rows', table };
    // SEARCH without USING: min()/max() of the rowid, one row.
    if (using === undefined) return { kind: 'one' };
    if (/^INTEGER PRIMARY KEY \(rowid=\?\)$/.test(using))
      return manyValues ? { kind: 'rows', table } : { kind: 'one' };
    if (/AUTOMATIC/.test(using) || /^INTEGER PRIMARY KEY/.test(using)) return { kind: 'rows', table };
    const im = /^(?:COVERING )?INDEX (\S+) \((.*)\)$/.exec(using);
    if (!im) return undefined;
    const index = (im[1] as string).replace(/^"|"$/g, '');
    const terms = (im[2] as string).split(' AND ');
    let eq = 0;
    while (eq < terms.length && /^\S+=\?$/.test(terms[eq] as string)) eq++;
    if (eq === 0) return { kind: 'rows', table };
    const columns = indexColumns(index);
    if (!columns || columns.length < eq) return undefined;
    // An IN list (or ORed equalities, which SQLite turns into one) makes a
    // loop one lookup per value: its rows are bounded by the table only.
    if (manyValues) return { kind: 'rows', table };
    const unique = /__outpost_key$/.test(index) && eq === columns.length && eq === terms.length;
    if (unique) return { kind: 'one' };
    return { kind: 'group', table, index, columns: columns.slice(0, eq) };
  };

  const nest = (parent: number): CostNode[] | false => {
    const out: CostNode[] = [];
    for (const line of children.get(parent) ?? []) {
      const d = line.detail;
      if (d === 'SCAN CONSTANT ROW') {
        out.push({ t: 'loop', factor: { kind: 'one' } });
      } else if (d.startsWith('USE TEMP B-TREE FOR ')) {
        out.push({ t: 'sort' });
      } else if (d === 'CREATE BLOOM FILTER' || d.startsWith('BLOOM FILTER ON ')) {
        // A filter in front of a loop: no more rows than the loop.
      } else if (/^(?:MATERIALIZE|CO-ROUTINE) /.test(d)) {
        const name = d.slice(d.indexOf(' ') + 1);
        const body = nest(line.id);
        if (body === false) return false;
        defined.add(name);
        out.push({ t: 'define', name, body });
      } else if (/^(?:CORRELATED )?(?:SCALAR|LIST) SUBQUERY \d+$/.test(d)) {
        const body = nest(line.id);
        if (body === false) return false;
        out.push({ t: 'sub', correlated: d.startsWith('CORRELATED'), body });
      } else if (d === 'COMPOUND QUERY' || d === 'MULTI-INDEX OR') {
        const parts: CostNode[][] = [];
        for (const part of children.get(line.id) ?? []) {
          if (
            !/^(?:LEFT-MOST SUBQUERY|UNION ALL|(?:UNION|EXCEPT|INTERSECT) USING TEMP B-TREE|INDEX \d+)$/.test(
              part.detail,
            )
          ) {
            return false;
          }
          const body = nest(part.id);
          if (body === false) return false;
          parts.push(body);
        }
        out.push({ t: 'parts', parts });
      } else {
        if ((children.get(line.id) ?? []).length > 0) return false;
        const factor = factorOf(d);
        if (!factor) return false;
        out.push({ t: 'loop', factor });
      }
    }
    return out;
  };
  return nest(0);
}

/** The factors whose figures `worstVisits` needs. */
export function factorsOf(shape: readonly CostNode[]): Factor[] {
  const out: Factor[] = [];
  const walk = (nodes: readonly CostNode[]) => {
    for (const n of nodes) {
      if (n.t === 'loop') {
        if (n.factor.kind === 'rows' || n.factor.kind === 'group') out.push(n.factor);
      } else if (n.t === 'sub' || n.t === 'define') walk(n.body);
      else if (n.t === 'parts') for (const p of n.parts) walk(p);
    }
  };
  walk(shape);
  return out;
}

/**
 * The worst case of rows a run visits (every loop's rows, every row through
 * a temp B-tree, every subquery run), undefined when a figure is missing.
 * Nested loops multiply; a loop counts at least one row (a LEFT JOIN yields
 * one without a match), so a bound is never below what the run does.
 */
export function worstVisits(shape: readonly CostNode[], facts: Facts): number | undefined {
  const subRows = new Map<string, number>();
  const evalNest = (nodes: readonly CostNode[]): { visits: number; rows: number } | undefined => {
    let mult = 1;
    let visits = 0;
    const correlated: (readonly CostNode[])[] = [];
    for (const n of nodes) {
      switch (n.t) {
        case 'loop': {
          const f = n.factor;
          const r = f.kind === 'one' ? 1 : f.kind === 'sub' ? subRows.get(f.name) : facts(f);
          if (r === undefined) return undefined;
          mult *= Math.max(1, r);
          visits += mult;
          break;
        }
        case 'sort':
          visits += mult;
          break;
        case 'define': {
          const e = evalNest(n.body);
          if (!e) return undefined;
          visits += e.visits;
          subRows.set(n.name, e.rows);
          break;
        }
        case 'sub':
          if (n.correlated) correlated.push(n.body);
          else {
            const e = evalNest(n.body);
            if (!e) return undefined;
            visits += e.visits;
          }
          break;
        case 'parts': {
          let rows = 0;
          let partVisits = 0;
          for (const p of n.parts) {
            const e = evalNest(p);
            if (!e) return undefined;
            rows += e.rows;
            partVisits += e.visits;
          }
          visits += mult * partVisits;
          mult *= Math.max(1, rows);
          visits += mult;
          break;
        }
      }
    }
    // Where SQLite evaluates a correlated subquery is not in the plan: once per row of the whole nest, at worst.
    for (const body of correlated) {
      const e = evalNest(body);
      if (!e) return undefined;
      visits += mult * e.visits;
    }
    return { visits, rows: mult };
  };
  return evalNest(shape)?.visits;
}

/** A key for a factor's figure. */
export function factorKey(f: Factor): string {
  if (f.kind === 'rows') return `rows\u0000${f.table}`;
  if (f.kind === 'group') return `group\u0000${f.table}\u0000${f.index}\u0000${f.columns.join('\u0000')}`;
  return f.kind;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Tables with more rows than this (by their rowid span) get no group
 * figure: counting their groups would hold an executor too long, and a
 * worst case over such a table rarely fits an inline budget anyway.
 */
export const GROUP_FIGURE_MAX_ROWS = 200_000;

/** Rows of a table, at most: its rowids are distinct integers (O(log n), no count). */
function rowSpan(table: string): string {
  const q = quote(table);
  return `coalesce((SELECT max(rowid) FROM ${q}) - (SELECT min(rowid) FROM ${q}) + 1, 0)`;
}

/** SQL computing a factor's figure (in an executor: a group figure reads the whole index), NULL when not computed. */
export function factorSql(f: Factor): string {
  if (f.kind === 'rows') return rowSpan(f.table);
  if (f.kind === 'group') {
    return `CASE WHEN ${rowSpan(f.table)} <= ${GROUP_FIGURE_MAX_ROWS} THEN (SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c FROM ${quote(f.table)} INDEXED BY ${quote(
      f.index,
    )} GROUP BY ${f.columns.map(quote).join(', ')})) END`;
  }
  return '1';
}

/**
 * Meta values that move with every commit of the stream (src/replica/applier.ts,
 * src/replication/follow.ts) while the rows they come with are counted in
 * `_outpost_changes`: left out of the state's text, or every write would
 * make every figure stale.
 */
const POSITION_KEYS = ['applied_lsn', 'nats_seq'];

/**
 * The replica's state as the figures of a plan over `tables` see it, as
 * the columns of a SELECT: first a text that changes whenever the replica may have changed otherwise than
 * by counted row changes (every `_outpost_meta` value but the stream
 * positions: snapshot and resync states, stale tables, ...; and the schema
 * cookie, which every table replacement, resync swap, bootstrap and DDL
 * moves), then each table's count of rows changed (`_outpost_changes`,
 * 0 when none). Read in the same snapshot as the statement and as the figures.
 */
export function stateColumns(tables: readonly string[]): string[] {
  const positions = POSITION_KEYS.map((k) => `'${k}'`).join(', ');
  const text =
    `coalesce((SELECT group_concat(key || '=' || value, ';') FROM _outpost_meta WHERE key NOT IN (${positions})), '')` +
    ` || '|' || (SELECT schema_version FROM pragma_schema_version)`;
  const counts = tables.map(
    (t) => `coalesce((SELECT n FROM _outpost_changes WHERE name = '${t.replace(/'/g, "''")}'), 0)`,
  );
  return [text, ...counts];
}
