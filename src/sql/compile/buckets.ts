/**
 * width_bucket(operand, low, high, count) as Postgres resolves it: float8
 * when an argument is float8 or float4 or all are integers (float8 is the
 * preferred numeric type), numeric when one is numeric and none is a float;
 * the computation in src/sql/width-bucket.ts. The array form is forwarded.
 */
import { NotLocal } from '../../errors.js';
import { isIntType, Oid } from '../pgtypes.js';
import { BucketFn } from '../width-bucket.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

export function widthBucketCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 4) throw new NotLocal('width_bucket() with these arguments');
  const bounds = args.slice(0, 3);
  const typed = bounds.filter((a) => !a.unknown);
  if (typed.length === 0) throw new NotLocal('width_bucket() of untyped values');
  const isFloat = (t: number): boolean => t === Oid.float8 || t === Oid.float4;
  if (!typed.every((a) => isFloat(a.type) || a.type === Oid.numeric || isIntType(a.type)))
    throw new NotLocal('width_bucket() of these types');
  const anyFloat = typed.some((a) => isFloat(a.type));
  // A numeric constant beside a float is cast to float8 (numeric_float8 reads its text);
  // other numeric values are not converted here.
  const anyNumeric = typed.some((a) => a.type === Oid.numeric && !(anyFloat && a.literal !== undefined));
  if (anyFloat && anyNumeric) throw new NotLocal('width_bucket() of numeric and float8');
  const kind = anyNumeric ? 'numeric' : 'float8';
  const type = anyNumeric ? Oid.numeric : Oid.float8;
  const ops = bounds.map((a) => {
    if (a.type === Oid.float4) throw new NotLocal('width_bucket() of float4');
    if (a.type === Oid.numeric && a.literal !== undefined && type === Oid.float8) return this.float8Const(a);
    return this.coerce(a, type);
  });
  const count = this.coerce(args[3] as Expr, Oid.int4);
  if (count.type !== Oid.int4) throw new NotLocal(`width_bucket() count of ${count.typeName}`);
  const e = derived(
    `${BucketFn.widthBucket}('${kind}', ${ops.map((o) => o.sql).join(', ')}, ${count.sql})`,
    Oid.int4,
    -1,
    [...ops, count],
  );
  return this.errorCapable(e, c);
}
