/**
 * Row constructors: `ROW(a, b)` / `(a, b)` as a value of the outermost
 * select list (an anonymous `record`, printed by record_out), and row
 * comparisons `ROW(a, b) < ROW(c, d)` (Postgres's make_row_comparison_op).
 *
 * A record value is only served as an output of the statement's outermost
 * query (or inside such a ROW): anywhere else its meaning is not the text's
 * (`r IS NULL` is true when every field is NULL, records compare field by
 * field), which the compiler does not model. Elements are limited to types
 * whose output does not depend on the session's settings.
 */
import type { ColumnRef, Node, RowExpr, SelectStmt, SubLink } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { Oid } from '../pgtypes.js';
import { RECORD_OID, RecordFn, SESSION_INDEPENDENT_TYPES } from '../record.js';
import type { StatementCompiler } from './compiler.js';
import { unsupported } from './support.js';
import type { Expr, ExprCtx, Out } from './types.js';
import { derived } from './values.js';

/** Postgres's MaxTupleAttributeNumber: a longer ROW is an error (54011). */
const MAX_ROW_ENTRIES = 1664;

export function isRowExpr(node: Node | undefined): boolean {
  return node !== undefined && nodeKind(node)[0] === 'RowExpr';
}

/** The elements of a ROW(...), `t.*` expanded as Postgres does. */
function rowElements(sc: StatementCompiler, r: RowExpr, c: ExprCtx): { node: Node; expr?: Expr }[] {
  const out: { node: Node; expr?: Expr }[] = [];
  for (const a of r.args ?? []) {
    const [kind, body] = nodeKind(a);
    if (kind === 'ColumnRef' && ((body as ColumnRef).fields ?? []).some((f) => 'A_Star' in f)) {
      const cols = sc.columnRef(body as ColumnRef, c.level);
      if (!Array.isArray(cols)) throw unsupported('row constructor');
      for (const col of cols) out.push({ node: a, expr: { ...col.expr, localColumn: true } });
    } else out.push({ node: a });
  }
  return out;
}

/** ROW(...) as a value: an anonymous record, as record_out prints it. */
export function rowValue(this: StatementCompiler, r: RowExpr, c: ExprCtx): Expr {
  const elements = rowElements(this, r, c);
  if (elements.length > MAX_ROW_ENTRIES) throw new NotLocal('ROW expressions can have at most 1664 entries');
  const kids: Expr[] = [];
  const oids: number[] = [];
  for (const el of elements) {
    let e = el.expr ?? (isRowExpr(el.node) ? this.rowValue(nodeKind(el.node)[1] as RowExpr, c) : undefined);
    e ??= this.expr(el.node, c);
    // An untyped literal stays `unknown` in a ROW: unknownout prints it as written, like text.
    if (e.unknown?.kind === 'param') throw new NotLocal('could not determine data type of parameter');
    if (e.unknown) e = this.resolveUnknown(e, Oid.text);
    let oid: number;
    if (e.type === RECORD_OID || e.enumLabels !== undefined) oid = Oid.text;
    else if (SESSION_INDEPENDENT_TYPES.has(e.type)) oid = e.type;
    else throw new NotLocal(`row constructor of ${e.typeName}`);
    kids.push(e);
    oids.push(oid);
  }
  const sql = `${RecordFn.out}('${oids.join(',')}'${kids.map((k) => `, ${k.sql}`).join('')})`;
  return { ...derived(sql, RECORD_OID, -1, kids), typlen: -1, typeName: 'record' };
}

/**
 * `ROW(...) op ROW(...)` (make_row_comparison_op): `=` is the AND of the
 * pairs' `=`, `<>` the OR of their `<>`, IS [NOT] DISTINCT FROM pairwise;
 * an ordering operator is decided by the first pair that is not equal (NULL
 * when either of that pair is NULL). Each pair is typed like a comparison
 * of its own.
 */
export function rowComparison(this: StatementCompiler, op: string, l: Node, r: Node, c: ExprCtx): Expr {
  const [lk, lb] = nodeKind(l);
  const [rk, rb] = nodeKind(r);
  const link = rk === 'SubLink' ? (rb as SubLink) : undefined;
  if (lk === 'RowExpr' && link?.subLinkType === 'EXPR_SUBLINK' && link.subselect) {
    // transformAExprOp: ROW(...) op (SELECT ...) compares with the subquery's row.
    if (op === 'IS' || op === 'IS NOT') throw unsupported('IS DISTINCT FROM (subquery)');
    const [sk, sb] = nodeKind(link.subselect);
    if (sk !== 'SelectStmt') throw unsupported('subquery');
    if (c.level.grouped && c.clause !== 'where' && c.clause !== 'on')
      throw unsupported('subquery in a grouped query');
    c.level.hasSublinks = true;
    return this.rowSubLink('compare', op, l, sb as SelectStmt, c);
  }
  if (lk !== 'RowExpr' || rk !== 'RowExpr') throw unsupported('row comparison with a non-row operand');
  const left = rowElements(this, lb as RowExpr, c);
  const right = rowElements(this, rb as RowExpr, c);
  if (left.length !== right.length) throw new NotLocal('unequal number of entries in row expressions');
  if (left.length === 0) throw new NotLocal('cannot compare rows of zero length');
  const operands = left.map((le, i) => {
    const re = right[i] as { node: Node; expr?: Expr };
    if (isRowExpr(le.node) || isRowExpr(re.node)) throw unsupported('nested row comparison');
    let a = le.expr ?? this.expr(le.node, c);
    let b = re.expr ?? this.expr(re.node, c);
    // An untyped NULL takes the other side's type (both untyped: text), as in any comparison.
    if (a.unknown?.kind === 'null') a = this.resolveUnknown(a, b.unknown ? Oid.text : b.type);
    if (b.unknown?.kind === 'null') b = this.resolveUnknown(b, a.unknown ? Oid.text : a.type);
    return [a, b] as const;
  });
  const kids: Expr[] = [];
  const pair = (pairOp: string, i: number): string => {
    const [a, b] = operands[i] as readonly [Expr, Expr];
    const e = this.comparison(pairOp, a, b, c.clause);
    kids.push(e);
    return e.sql;
  };
  const n = left.length;
  const sql = compareRows(op, n, pair);
  return derived(sql, Oid.bool, -1, kids);
}

/**
 * A row against a subquery's rows (transformSubLink with a ROW on the left):
 * `(a, b) IN (SELECT x, y ...)` / `= ANY`, `NOT IN` (NOT of it), `<> ALL`
 * (the NOT of `= ANY`: the OR of the pairs' `<>` is the NOT of the AND of
 * their `=`), and `ROW(a, b) op (SELECT x, y)` (ROWCOMPARE_SUBLINK: the
 * subquery's only row, NULL without rows, more than one an error, which
 * aborts the run). Each pair is typed like a comparison of its own; ANY is
 * true when some row's pairs are all equal, else NULL when some row's are
 * NULL, else false, evaluated over one scan of the subquery.
 */
export function rowSubLink(
  this: StatementCompiler,
  kind: 'any' | 'all' | 'compare',
  op: string,
  test: Node,
  select: SelectStmt,
  c: ExprCtx,
): Expr {
  const [tk, tb] = nodeKind(test);
  if (tk !== 'RowExpr') throw unsupported('row comparison with a non-row operand');
  if (kind === 'any' && op !== '=') throw unsupported(`row ${op} ANY (subquery)`);
  if (kind === 'all' && op !== '<>') throw unsupported(`row ${op} ALL (subquery)`);
  const left = rowElements(this, tb as RowExpr, c);
  const sub = this.selectStmt(select, c.level, c.level.ctes, false, false);
  if (sub.outs.length > left.length) throw new NotLocal('subquery has too many columns');
  if (sub.outs.length < left.length) throw new NotLocal('subquery has too few columns');
  if (left.length === 0) throw new NotLocal('cannot compare rows of zero length');
  const a = this.alias();
  const outs = sub.outs.map((o: Out) => o.expr);
  const operands = left.map((le, i) => {
    if (isRowExpr(le.node)) throw unsupported('nested row comparison');
    let l = le.expr ?? this.expr(le.node, c);
    const out = outs[i] as Expr;
    const probe: Expr = { ...out, sql: `${a}.c${i}`, origin: undefined, kids: [], localColumn: true };
    if (l.unknown?.kind === 'null') l = this.resolveUnknown(l, probe.unknown ? Oid.text : probe.type);
    return [l, probe] as const;
  });
  const kids = operands.map(([l]) => l);
  const pair = (pairOp: string, i: number): string => {
    const [l, r] = operands[i] as readonly [Expr, Expr];
    return this.comparison(pairOp, l, r, c.clause).sql;
  };
  const n = left.length;
  const idx = [...Array(n).keys()];
  const from = `FROM (${sub.build(outs)}) AS ${a}`;
  let sql: string;
  if (kind === 'compare') {
    // IS [NOT] DISTINCT FROM has no subquery form here.
    if (op === 'IS' || op === 'IS NOT') throw unsupported(`row comparison with operator ${op}`);
    const test = compareRows(op, n, pair);
    sql = `(SELECT ${SqlFn.single}(${test}) ${from})`;
  } else {
    const eq = `(${idx.map((i) => pair('=', i)).join(' AND ')})`;
    const anyEq = `(SELECT CASE WHEN max(${eq}) = 1 THEN 1 WHEN max((${eq}) IS NULL) = 1 THEN NULL ELSE 0 END ${from})`;
    sql = kind === 'any' ? anyEq : `(NOT ${anyEq})`;
  }
  return { ...derived(sql, Oid.bool, -1, kids), constant: false };
}

/**
 * `ROW(...) IS [NOT] NULL` (ExecEvalRowNull): IS NULL when every field is
 * NULL, IS NOT NULL when none is (so a row of both is neither); ROW() is
 * both. A nested ROW is a non-NULL field even when its own fields are NULL:
 * forwarded rather than modelled.
 */
export function rowNullTest(this: StatementCompiler, arg: Node, not: boolean, c: ExprCtx): Expr {
  const els = rowElements(this, nodeKind(arg)[1] as RowExpr, c);
  if (els.length > MAX_ROW_ENTRIES) throw new NotLocal('ROW expressions can have at most 1664 entries');
  const kids = els.map((el) => {
    if (isRowExpr(el.node)) throw unsupported('IS NULL on a nested row');
    let e = el.expr ?? this.expr(el.node, c);
    if (e.unknown?.kind === 'param') throw new NotLocal('could not determine data type of parameter');
    if (e.unknown) e = this.resolveUnknown(e, Oid.text);
    return e;
  });
  const sql =
    kids.length === 0 ? '1' : `(${kids.map((k) => `${k.sql} IS ${not ? 'NOT ' : ''}NULL`).join(' AND ')})`;
  return derived(sql, Oid.bool, -1, kids);
}

/**
 * `(ROW(a, b)).f2`: a field of an anonymous record is named f1, f2, ...
 * (its element, typed as written). Other names are errors, `.*`, untyped
 * and nested elements are forwarded.
 */
export function rowField(this: StatementCompiler, arg: Node, indirection: Node[], c: ExprCtx): Expr {
  const [first] = indirection;
  const name = indirection.length === 1 && first && 'String' in first ? first.String.sval : undefined;
  const m = name === undefined ? null : /^f([1-9]\d{0,3})$/.exec(name);
  const els = rowElements(this, nodeKind(arg)[1] as RowExpr, c);
  const el = m ? els[Number(m[1]) - 1] : undefined;
  if (!el || isRowExpr(el.node)) throw unsupported('field selection from a row constructor');
  const e = el.expr ?? this.expr(el.node, c);
  if (e.unknown) throw new NotLocal('field of an untyped row element');
  // Postgres folds the other fields' constants while planning (1/0 raises there).
  for (const other of els) {
    if (other === el || other.expr) continue;
    if (isRowExpr(other.node) || this.expr(other.node, c).errorProne)
      throw new NotLocal('row constructor with a field that may raise an error');
  }
  // A field of a record is no table's column (RowDescription names no table).
  return { ...e, origin: undefined, kids: [e] };
}

/**
 * Postgres's comparison of two rows of n fields, `pair(op, i)` comparing the
 * i-th: = and IS are all pairs, <> and IS NOT any pair; an ordering decides
 * at the first pair not equal (NULL when that equality is unknown), as
 * make_row_comparison_op does.
 */
function compareRows(op: string, n: number, pair: (pairOp: string, i: number) => string): string {
  const idx = [...Array(n).keys()];
  switch (op) {
    case '=':
      return `(${idx.map((i) => pair('=', i)).join(' AND ')})`;
    case '<>':
      return `(${idx.map((i) => pair('<>', i)).join(' OR ')})`;
    case 'IS NOT':
      return `(${idx.map((i) => pair('IS NOT', i)).join(' OR ')})`;
    case 'IS':
      return `(${idx.map((i) => pair('IS', i)).join(' AND ')})`;
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const arms: string[] = [];
      for (let i = 0; i < n - 1; i++) {
        const eq = pair('=', i);
        arms.push(`WHEN ${eq} IS NULL THEN NULL WHEN NOT ${eq} THEN ${pair(op, i)}`);
      }
      const last = pair(op, n - 1);
      return arms.length === 0 ? last : `(CASE ${arms.join(' ')} ELSE ${last} END)`;
    }
    default:
      throw unsupported(`row comparison with operator ${op}`);
  }
}
