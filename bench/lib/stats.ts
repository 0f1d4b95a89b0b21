/** Small statistics helpers for the benchmarks (no dependencies). */

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  // Even counts average the middle two, so two rounds give their mean rather than the faster one.
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Nearest-rank percentile (p in 0..100) of an ascending-sorted array: a value
 * that was actually observed, as latency percentiles conventionally are.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function percentile(xs: number[], p: number): number {
  return percentileSorted(
    Float64Array.from(xs).sort((a, b) => a - b),
    p,
  );
}

/** A number with a sensible amount of digits for a table. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

export function ratio(x: number | undefined, base: number | undefined): number | undefined {
  if (x === undefined || base === undefined || !Number.isFinite(x) || !Number.isFinite(base) || base === 0) {
    return undefined;
  }
  return x / base;
}

/** A ratio as `0.85×`, keeping two significant digits for very small ones (`0.0037×`). */
export function fmtRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return '—';
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 0.1) return `${r.toFixed(2)}×`;
  return `${r.toPrecision(2)}×`;
}
