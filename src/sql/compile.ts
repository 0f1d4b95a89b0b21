/**
 * Postgres AST (libpg-query) → SQLite SQL for the statements Outpost can
 * answer locally. A visitor with one case per node kind: every construct is
 * either translated with semantics identical to Postgres's, or rejected with
 * `NotLocal('<why>')` so the statement is forwarded. Postgres errors are not
 * imitated: anything Postgres would reject (unknown column, type mismatch,
 * negative LIMIT, division by zero, ...) is forwarded so upstream produces
 * the exact error. The one exception is an input function's error for a
 * constant (an InputError, worded as Postgres words it): Postgres raises it
 * while analysing, so once the rest of the statement compiles it is the
 * statement's answer (`CompiledSelect.inputError`).
 *
 * Every SQLite expression yields its value in the stored form of its Postgres
 * type (docs/architecture.md, "Storage of values"); comparisons and sorts go
 * through `comparable()`, which maps a stored value to one SQLite orders and
 * equates exactly like Postgres (float `'-0'` → 0.0, numeric and
 * timestamptz → sortable keys, ...).
 *
 * Supported:
 *   SELECT [DISTINCT | DISTINCT ON (...)] <*, t.*, expressions [AS alias]>
 *   [FROM replicated tables, CTEs and subqueries, [INNER|LEFT|RIGHT|CROSS] JOIN ON/USING]
 *   [WHERE] [GROUP BY] [HAVING] [ORDER BY] [LIMIT/OFFSET constants or $n]
 *   UNION [ALL] / INTERSECT / EXCEPT, non-recursive WITH.
 * Expressions: columns (also schema.table.column), constants, $n parameters,
 *   comparisons, AND/OR/NOT, IS [NOT] NULL/TRUE/FALSE/UNKNOWN/DISTINCT FROM,
 *   [NOT] IN (list|subquery), = ANY/<> ALL (array), [NOT] BETWEEN [SYMMETRIC],
 *   [NOT] [I]LIKE [ESCAPE] (also on char(n)), EXISTS, scalar subqueries,
 *   integer + - * / %, numeric + - * and round(numeric[, n]), date ± integer,
 *   date - date, extract(field FROM date), ||, lower, upper, length,
 *   GREATEST/LEAST, COALESCE, NULLIF, CASE, COLLATE "C", jsonb -> / ->> with a
 *   constant key, casts between supported types; count, sum, avg of integers
 *   and numeric, min/max, [FILTER (WHERE ...)], string_agg/array_agg with
 *   ORDER BY; window functions (row_number, rank, dense_rank, percent_rank,
 *   cume_dist, ntile, lag, lead, count/sum/avg/min/max) with the default
 *   frame. GROUP BY/DISTINCT over numeric and float group by value, and abort
 *   when a group's values differ in text (Postgres would output any of them);
 *   constructs whose result depends on Postgres's order among ties
 *   (row_number, lag/lead, DISTINCT ON, string_agg/array_agg ORDER BY) abort
 *   the run when a tie occurs. Exact numeric division and sums; a tie
 *   between different texts of equal values in min/max is not local.
 */
export { compileSelect } from './compile/compiler.js';
export { NOT_LOCAL_FUNCTION } from './compile/support.js';
export type {
  BindSource,
  CompileContext,
  CompiledSelect,
  CompileOptions,
  OutputColumn,
} from './compile/types.js';
