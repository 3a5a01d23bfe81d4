/**
 * Ridge least squares from accumulated normal equations, small and dense:
 * the cold-start model has a handful of feature weights plus one offset per
 * host of unknown speed.
 */
export class NormalEquations {
  /** X'X, row-major p x p. */
  private readonly xtx: Float64Array;
  private readonly xty: Float64Array;
  private count = 0;

  constructor(readonly size: number) {
    this.xtx = new Float64Array(size * size);
    this.xty = new Float64Array(size);
  }

  /** Number of rows added. */
  get rows(): number {
    return this.count;
  }

  /** Adds one observation row given as sparse (column, value) pairs. */
  add(cols: readonly number[], vals: readonly number[], y: number): void {
    const p = this.size;
    for (let a = 0; a < cols.length; a++) {
      const ca = cols[a]!;
      const va = vals[a]!;
      this.xty[ca] = this.xty[ca]! + va * y;
      for (let b = 0; b < cols.length; b++) {
        const i = ca * p + cols[b]!;
        this.xtx[i] = this.xtx[i]! + va * vals[b]!;
      }
    }
    this.count++;
  }

  /**
   * Solves (X'X + diag(ridge)) w = X'y + diag(ridge) prior: least squares
   * pulled towards `prior` (zero when omitted); undefined when singular.
   */
  solve(ridge: ArrayLike<number>, prior?: ArrayLike<number>): Float64Array | undefined {
    const p = this.size;
    const a = Float64Array.from(this.xtx);
    const w = Float64Array.from(this.xty);
    for (let i = 0; i < p; i++) {
      const r = ridge[i] ?? 0;
      a[i * p + i] = a[i * p + i]! + r;
      w[i] = w[i]! + r * (prior?.[i] ?? 0);
    }
    for (let col = 0; col < p; col++) {
      let pivot = col;
      for (let r = col + 1; r < p; r++) {
        if (Math.abs(a[r * p + col]!) > Math.abs(a[pivot * p + col]!)) pivot = r;
      }
      const pv = a[pivot * p + col]!;
      if (Math.abs(pv) < 1e-12) return undefined;
      if (pivot !== col) {
        for (let c = 0; c < p; c++) {
          const t = a[col * p + c]!;
          a[col * p + c] = a[pivot * p + c]!;
          a[pivot * p + c] = t;
        }
        const t = w[col]!;
        w[col] = w[pivot]!;
        w[pivot] = t;
      }
      for (let r = 0; r < p; r++) {
        if (r === col) continue;
        const f = a[r * p + col]! / pv;
        if (f === 0) continue;
        for (let c = col; c < p; c++) a[r * p + c] = a[r * p + c]! - f * a[col * p + c]!;
        w[r] = w[r]! - f * w[col]!;
      }
    }
    for (let i = 0; i < p; i++) w[i] = w[i]! / a[i * p + i]!;
    return w;
  }
}
