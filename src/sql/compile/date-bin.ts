/** date_bin(interval, timestamp, timestamp) and date_bin(interval, timestamptz, timestamptz) (src/sql/timestamp-ops.ts). */
import { NotLocal } from '../../errors.js';
import { DtFn } from '../datetime-functions.js';
import { Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

/**
 * Whether the upstream rounds a source before the origin down to its bin
 * (tm_modulo < 0: one more stride back). Seen on 15.18 and 17.10; earlier
 * minors of a major are not assumed to, and that case forwards there.
 */
function floorsBeforeOrigin(versionNum: number): boolean {
  return (versionNum >= 150018 && versionNum < 160000) || versionNum >= 170010;
}

/**
 * The source and origin share one type, timestamp or timestamptz (an
 * untyped one takes the other's); mixing them (a cast in the session's
 * zone), dates (resolved to timestamptz) or two untyped values forward.
 */
export function dateBinCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 3) throw new NotLocal('date_bin() with these arguments');
  const [st, s, o] = args as [Expr, Expr, Expr];
  const stride = this.resolveUnknown(st, Oid.interval);
  if (stride.type !== Oid.interval) throw new NotLocal(`date_bin() stride of type ${stride.typeName}`);
  const typed = [s, o].filter((e) => !e.unknown);
  const type = typed[0]?.type;
  if (type === undefined) throw new NotLocal('date_bin() of untyped timestamps');
  if (typed.some((e) => e.type !== type) || (type !== Oid.timestamp && type !== Oid.timestamptz))
    throw new NotLocal(`date_bin() of ${typed.map((e) => e.typeName).join(' and ')}`);
  const source = this.resolveUnknown(s, type);
  const origin = this.resolveUnknown(o, type);
  const tz = type === Oid.timestamptz ? 1 : 0;
  const floor = floorsBeforeOrigin(this.ctx.serverVersionNum ?? 0) ? 1 : 0;
  return this.errorCapable(
    derived(`${DtFn.dateBin}(${stride.sql}, ${source.sql}, ${origin.sql}, ${tz}, ${floor})`, type, -1, [
      stride,
      source,
      origin,
    ]),
    c,
  );
}
