/**
 * `--tables` / `--schemas`: what Outpost replicates when not everything.
 * A filter becomes Outpost's own publication, named after the filter so that
 * instances with the same filter share one and instances with different
 * filters never fight over it.
 */
import { createHash } from 'node:crypto';
import { StartupError } from '../errors.js';

export interface TableFilter {
  /** [schema, table], as Postgres names them (unquoted parts folded to lower case). */
  tables: [string, string][];
  schemas: string[];
}

/** Splits `a, "B,c".d` on commas and dots outside double quotes; unquoted parts fold to lower case. */
function identifiers(flag: string, text: string): string[][] {
  const items: string[][] = [];
  let parts: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  const endPart = () => {
    const t = wasQuoted ? cur : cur.trim().toLowerCase();
    if (t === '' || (!wasQuoted && !/^[a-z_][a-z0-9_$]*$/.test(t))) {
      throw new StartupError(
        `--${flag}: "${text}" is not a comma-separated list of names (quote mixed-case names: "MyTable")`,
      );
    }
    parts.push(t);
    cur = '';
    wasQuoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      if (cur.trim() !== '') throw new StartupError(`--${flag}: misplaced quote in "${text}"`);
      cur = '';
      quoted = true;
      wasQuoted = true;
    } else if (ch === '.') endPart();
    else if (ch === ',') {
      endPart();
      items.push(parts);
      parts = [];
    } else if (wasQuoted) {
      if (ch.trim() !== '') throw new StartupError(`--${flag}: misplaced quote in "${text}"`);
    } else cur += ch;
  }
  if (quoted) throw new StartupError(`--${flag}: unterminated quote in "${text}"`);
  endPart();
  items.push(parts);
  return items;
}

/** The filter from the flags' values, or undefined when both are absent (everything). */
export function parseFilter(
  tables: string | undefined,
  schemas: string | undefined,
): TableFilter | undefined {
  if (tables === undefined && schemas === undefined) return undefined;
  const filter: TableFilter = { tables: [], schemas: [] };
  for (const item of tables !== undefined ? identifiers('tables', tables) : []) {
    if (item.length === 1) filter.tables.push(['public', item[0] as string]);
    else if (item.length === 2) filter.tables.push([item[0] as string, item[1] as string]);
    else throw new StartupError(`--tables: "${item.join('.')}" has too many dots (use schema.table)`);
  }
  for (const item of schemas !== undefined ? identifiers('schemas', schemas) : []) {
    if (item.length !== 1) throw new StartupError(`--schemas: "${item.join('.')}" is not a schema name`);
    filter.schemas.push(item[0] as string);
  }
  const key = (t: [string, string]) => `${t[0]}\u0000${t[1]}`;
  filter.tables = [...new Map(filter.tables.map((t) => [key(t), t])).values()].sort((a, b) =>
    key(a) < key(b) ? -1 : 1,
  );
  filter.schemas = [...new Set(filter.schemas)].sort();
  return filter;
}

/**
 * Outpost's publication for a filter: `outpost` for everything, `outpost_<hash>`
 * for a filter. Either lists the selected tables one by one (publication.ts).
 */
export function publicationName(filter: TableFilter | undefined): string {
  if (!filter) return 'outpost';
  const canonical = JSON.stringify([filter.tables, filter.schemas]);
  return `outpost_${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}

/** How the operator reads the filter in logs and errors. */
export function describeFilter(filter: TableFilter | undefined): string {
  if (!filter) return 'all tables';
  return [
    ...filter.tables.map(([s, t]) => `table ${s}.${t}`),
    ...filter.schemas.map((s) => `schema ${s}`),
  ].join(', ');
}
