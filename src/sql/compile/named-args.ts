/**
 * Named arguments (`f(a => 1)`, `f(a := 1)`) of the served functions that
 * have parameter names, put in positional order with the defaults Postgres
 * fills in. Anything Postgres rejects (a name used twice or naming a
 * parameter already given by position, an unknown name, a required
 * parameter left out) is forwarded, so Postgres raises its error.
 */
import type { FuncCall, Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { nodeKind } from '../parse.js';

const int0: Node = { A_Const: { ival: {} } } as Node;
const float0: Node = { A_Const: { fval: { fval: '0.0' } } } as Node;
const bool = (v: boolean): Node => ({ A_Const: { boolval: v ? { boolval: true } : {} } }) as Node;

/** pg_proc.proargnames, with the defaults of the trailing parameters that have one (undefined: none). */
const PARAMS: ReadonlyMap<string, { names: string[]; defaults: (Node | undefined)[] }> = new Map([
  [
    'make_interval',
    {
      names: ['years', 'months', 'weeks', 'days', 'hours', 'mins', 'secs'],
      defaults: [int0, int0, int0, int0, int0, int0, float0],
    },
  ],
  ['make_date', { names: ['year', 'month', 'day'], defaults: [undefined, undefined, undefined] }],
  ['parse_ident', { names: ['str', 'strict'], defaults: [undefined, bool(true)] }],
  [
    'jsonb_set',
    {
      names: ['jsonb_in', 'path', 'replacement', 'create_if_missing'],
      defaults: [undefined, undefined, undefined, bool(true)],
    },
  ],
  [
    'jsonb_set_lax',
    {
      names: ['jsonb_in', 'path', 'replacement', 'create_if_missing', 'null_value_treatment'],
      defaults: [
        undefined,
        undefined,
        undefined,
        bool(true),
        { A_Const: { sval: { sval: 'use_json_null' } } } as Node,
      ],
    },
  ],
  [
    'jsonb_insert',
    {
      names: ['jsonb_in', 'path', 'replacement', 'insert_after'],
      defaults: [undefined, undefined, undefined, bool(false)],
    },
  ],
]);

/** The call with its named arguments in place, or the call itself when it has none. */
export function positionalCall(name: string, f: FuncCall): FuncCall {
  const args = f.args ?? [];
  if (!args.some((a) => nodeKind(a)[0] === 'NamedArgExpr')) return f;
  const params = PARAMS.get(name);
  if (!params) throw new NotLocal(`named arguments of ${name}()`);
  const slots: (Node | undefined)[] = [];
  let named = false;
  for (const a of args) {
    const [kind, body] = nodeKind(a);
    if (kind !== 'NamedArgExpr') {
      if (named) throw new NotLocal('positional argument cannot follow named argument');
      slots.push(a);
      continue;
    }
    named = true;
    const n = body as { name?: string; arg?: Node };
    const i = params.names.indexOf(n.name ?? '');
    if (i < 0 || !n.arg) throw new NotLocal(`${name}() has no parameter named ${n.name ?? ''}`);
    if (slots[i] !== undefined) throw new NotLocal(`argument ${n.name ?? ''} given twice`);
    slots[i] = n.arg;
  }
  // Trailing parameters left out take their defaults only as far as needed;
  // a gap before a given argument must have a default.
  const last = slots.length;
  const out: Node[] = [];
  for (let i = 0; i < last; i++) {
    const given = slots[i] ?? params.defaults[i];
    if (given === undefined) throw new NotLocal(`${name}() without its ${params.names[i]} argument`);
    out.push(given);
  }
  return { ...f, args: out };
}
