/**
 * `ORDER BY x USING <` / `USING >`: for the built-in types the compiler
 * orders, `<` and `>` are the less-than and greater-than of the type's
 * default btree operator class, so the sort is exactly ASC / DESC, with the
 * same default NULL placement (NULLS LAST after `<`, NULLS FIRST after `>`,
 * as Postgres's transformSortClause gives them). Any other operator is
 * forwarded.
 */
import type { SortBy } from 'libpg-query';
import { NotLocal } from '../errors.js';

/** The equivalent ASC/DESC SortBy, or the SortBy itself without USING. */
export function sortWithoutUsing(sb: SortBy): SortBy {
  if (sb.sortby_dir !== 'SORTBY_USING' && !(sb.useOp && sb.useOp.length > 0)) return sb;
  const names = (sb.useOp ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const op = names[names.length - 1];
  if (names.length > 2 || (names.length === 2 && names[0] !== 'pg_catalog') || (op !== '<' && op !== '>')) {
    throw new NotLocal('unsupported: ORDER BY USING');
  }
  const { useOp: _, ...rest } = sb;
  return { ...rest, sortby_dir: op === '<' ? 'SORTBY_ASC' : 'SORTBY_DESC' };
}
