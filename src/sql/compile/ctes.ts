/** WITH: non-recursive common table expressions and their name scopes. */
import type { CommonTableExpr, SelectStmt, WithClause } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { nodeKind } from '../parse.js';
import type { StatementCompiler } from './compiler.js';
import { checkIdent, unsupported } from './support.js';
import type { CteDef, CteScope, Expr, Level } from './types.js';

export function withClause(
  this: StatementCompiler,
  w: WithClause,
  parent: Level | undefined,
  scope: CteScope,
): string {
  if (w.recursive) throw unsupported('WITH RECURSIVE');
  const parts: string[] = [];
  for (const node of w.ctes ?? []) {
    const [kind, body] = nodeKind(node);
    if (kind !== 'CommonTableExpr') throw unsupported(kind);
    const cte = body as CommonTableExpr;
    if (cte.search_clause || cte.cycle_clause) throw unsupported('CTE SEARCH/CYCLE');
    const name = checkIdent(cte.ctename ?? '');
    if (scope.defs.has(name)) throw new NotLocal(`WITH query name "${name}" specified more than once`);
    const q = cte.ctequery;
    if (!q) throw unsupported('empty CTE');
    const [qkind, qbody] = nodeKind(q);
    if (qkind !== 'SelectStmt') throw unsupported('data-modifying statement in WITH');
    const r = this.selectStmt(qbody as SelectStmt, parent, scope, false, false);
    const finals = r.outs.map((o) => o.expr);
    const colnames = (cte.aliascolnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
    if (colnames.length > r.outs.length) throw new NotLocal(`WITH query "${name}" has too many column names`);
    const sqlName = this.alias('w');
    parts.push(`${sqlName} AS (${r.build(finals)})`);
    scope.defs.set(name, {
      name,
      sqlName,
      outs: r.outs.map((o, i) => ({ name: checkIdent(colnames[i] ?? o.name), expr: finals[i] as Expr })),
    });
  }
  return parts.length > 0 ? `WITH ${parts.join(', ')} ` : '';
}

export function findCte(
  this: StatementCompiler,
  scope: CteScope | undefined,
  name: string,
): CteDef | undefined {
  for (let s = scope; s; s = s.parent) {
    const d = s.defs.get(name);
    if (d) return d;
  }
  return undefined;
}
