/**
 * Ridge least squares from accumulated normal equations, shaped for the
 * cold-start model: a few hundred feature weights (dense: intercept,
 * dependency counts, one column per category) plus one offset per host of
 * unknown speed (sparse: a host's offset meets the features of the tasks
 * it ran, and another host's offset only through the few tasks both ran).
 *
 * A dense solve of all columns costs (features + hosts)^3, a quarter of a
 * second at 500 hosts, and it runs in the master's event loop. Here the
 * system is solved by conjugate gradients, preconditioned by the same
 * system without its host-to-host couplings: that one is solved exactly
 * through the Schur complement of its diagonal host block (one small dense
 * Cholesky factor of the features' block), so with no couplings the first
 * step is the answer, and the few couplings pairs of runs add cost a few
 * more steps. The matrix is symmetric positive definite (a ridge on every
 * column).
 */
export class NormalEquations {
  /** Dense block X'X over the first `dense` columns, row-major. */
  private readonly dd: Float64Array;
  /** Per sparse column: its coupling to each dense column. */
  private readonly sd: Float64Array[] = [];
  /** Per sparse column: its diagonal entry. */
  private readonly diag: number[] = [];
  /** Per sparse column: off-diagonal entries to other sparse columns. */
  private readonly off: Map<number, number>[] = [];
  private readonly xty: number[];
  private count = 0;

  /** Columns [0, dense) are dense, [dense, dense + sparse) sparse; more sparse ones may be added. */
  constructor(
    readonly dense: number,
    sparse: number,
  ) {
    this.dd = new Float64Array(dense * dense);
    this.xty = new Array<number>(dense).fill(0);
    for (let i = 0; i < sparse; i++) this.addSparseColumn();
  }

  /** Appends a sparse column (with no rows yet); returns its index. */
  addSparseColumn(): number {
    this.sd.push(new Float64Array(this.dense));
    this.diag.push(0);
    this.off.push(new Map());
    this.xty.push(0);
    return this.xty.length - 1;
  }

  /** Number of sparse columns. */
  get sparse(): number {
    return this.diag.length;
  }

  /** Number of columns. */
  get size(): number {
    return this.dense + this.sparse;
  }

  /** Number of rows added. */
  get rows(): number {
    return this.count;
  }

  /** Adds one observation row given as sparse (column, value) pairs, each column at most once. */
  add(cols: readonly number[], vals: readonly number[], y: number): void {
    const d = this.dense;
    for (let a = 0; a < cols.length; a++) {
      const ca = cols[a]!;
      const va = vals[a]!;
      this.xty[ca] = this.xty[ca]! + va * y;
      for (let b = 0; b < cols.length; b++) {
        const cb = cols[b]!;
        const v = va * vals[b]!;
        if (ca < d && cb < d) {
          this.dd[ca * d + cb] = this.dd[ca * d + cb]! + v;
        } else if (ca >= d && cb < d) {
          const row = this.sd[ca - d]!;
          row[cb] = row[cb]! + v;
        } else if (ca >= d && cb >= d) {
          if (ca === cb) this.diag[ca - d] = this.diag[ca - d]! + v;
          else addTo(this.off[ca - d]!, cb - d, v);
        }
        // (ca < d, cb >= d) is the transpose of a sparse row's coupling: kept once.
      }
    }
    this.count++;
  }

  /**
   * Solves (X'X + diag(ridge)) w = X'y + diag(ridge) prior: least squares
   * pulled towards `prior` (zero when omitted); undefined when singular.
   * The accumulated equations are left unchanged.
   */
  solve(ridge: ArrayLike<number>, prior?: ArrayLike<number>): Float64Array | undefined {
    const d = this.dense;
    const s = this.sparse;
    const b = Float64Array.from(this.xty);
    for (let i = 0; i < d + s; i++) b[i] = b[i]! + (ridge[i] ?? 0) * (prior?.[i] ?? 0);
    const diag = Float64Array.from(this.diag, (v, i) => v + (ridge[d + i] ?? 0));
    if (ridge.length < d + s) throw new RangeError(`${d + s} columns, ${ridge.length} ridge terms`);
    for (const v of diag) if (!(v > 1e-12)) return undefined;
    const dd = Float64Array.from(this.dd);
    for (let i = 0; i < d; i++) dd[i * d + i] = dd[i * d + i]! + (ridge[i] ?? 0);
    // Each host's couplings, packed: to the features (cols/vals from start[h]),
    // to other hosts (hostCols/hostVals from hostStart[h]).
    const start = new Int32Array(s + 1);
    const hostStart = new Int32Array(s + 1);
    for (let h = 0; h < s; h++) {
      let k = 0;
      for (const v of this.sd[h]!) if (v !== 0) k++;
      start[h + 1] = start[h]! + k;
      hostStart[h + 1] = hostStart[h]! + this.off[h]!.size;
    }
    const cols = new Int32Array(start[s]!);
    const vals = new Float64Array(start[s]!);
    const hostCols = new Int32Array(hostStart[s]!);
    const hostVals = new Float64Array(hostStart[s]!);
    for (let h = 0; h < s; h++) {
      let k = start[h]!;
      const row = this.sd[h]!;
      for (let a = 0; a < d; a++) {
        if (row[a] === 0) continue;
        cols[k] = a;
        vals[k++] = row[a]!;
      }
      k = hostStart[h]!;
      for (const [j, e] of this.off[h]!) {
        hostCols[k] = d + j;
        hostVals[k++] = e;
      }
    }
    // The preconditioner: this system without the host-to-host couplings,
    // solved exactly through the Schur complement of the (diagonal) host block.
    const schur = Float64Array.from(dd);
    for (let h = 0; h < s; h++) {
      const inv = 1 / diag[h]!;
      for (let i = start[h]!, end = start[h + 1]!; i < end; i++) {
        const f = vals[i]! * inv;
        const o = cols[i]! * d;
        for (let j = start[h]!; j < end; j++)
          schur[o + cols[j]!] = schur[o + cols[j]!]! - f * vals[j]!;
      }
    }
    if (!cholesky(schur, d)) return undefined;
    const precondition = (r: Float64Array, z: Float64Array): void => {
      for (let a = 0; a < d; a++) z[a] = r[a]!;
      for (let h = 0; h < s; h++) {
        const f = r[d + h]! / diag[h]!;
        for (let i = start[h]!, end = start[h + 1]!; i < end; i++)
          z[cols[i]!] = z[cols[i]!]! - vals[i]! * f;
      }
      choleskySolve(schur, d, z);
      for (let h = 0; h < s; h++) {
        let v = r[d + h]!;
        for (let i = start[h]!, end = start[h + 1]!; i < end; i++) v -= vals[i]! * z[cols[i]!]!;
        z[d + h] = v / diag[h]!;
      }
    };
    const multiply = (x: Float64Array, y: Float64Array): void => {
      for (let a = 0; a < d; a++) {
        let v = 0;
        for (let c = 0; c < d; c++) v += dd[a * d + c]! * x[c]!;
        y[a] = v;
      }
      for (let h = 0; h < s; h++) {
        const xh = x[d + h]!;
        let v = diag[h]! * xh;
        for (let i = start[h]!, end = start[h + 1]!; i < end; i++) {
          y[cols[i]!] = y[cols[i]!]! + vals[i]! * xh;
          v += vals[i]! * x[cols[i]!]!;
        }
        for (let i = hostStart[h]!, end = hostStart[h + 1]!; i < end; i++)
          v += hostVals[i]! * x[hostCols[i]!]!;
        y[d + h] = v;
      }
    };
    return conjugateGradient(d + s, b, multiply, precondition);
  }
}

/** Enough for hundreds of couplings; the residual is below 1e-12 of the right side long before. */
const MAX_STEPS = 200;

/**
 * Preconditioned conjugate gradients for a symmetric positive definite
 * system. With no host-to-host couplings the preconditioner is the system
 * itself and one step is exact; each coupling adds about one more step.
 */
function conjugateGradient(
  n: number,
  b: Float64Array,
  multiply: (x: Float64Array, y: Float64Array) => void,
  precondition: (r: Float64Array, z: Float64Array) => void,
): Float64Array | undefined {
  const x = new Float64Array(n);
  const r = Float64Array.from(b);
  const z = new Float64Array(n);
  const q = new Float64Array(n);
  precondition(r, z);
  const p = Float64Array.from(z);
  let rz = dot(r, z);
  const stop = 1e-24 * Math.max(dot(b, b), 1e-300);
  for (let it = 0; it < MAX_STEPS && dot(r, r) > stop; it++) {
    multiply(p, q);
    const pq = dot(p, q);
    if (!(pq > 0)) return undefined;
    const alpha = rz / pq;
    for (let i = 0; i < n; i++) {
      x[i] = x[i]! + alpha * p[i]!;
      r[i] = r[i]! - alpha * q[i]!;
    }
    precondition(r, z);
    const next = dot(r, z);
    const beta = next / rz;
    rz = next;
    for (let i = 0; i < n; i++) p[i] = z[i]! + beta * p[i]!;
  }
  return x;
}

function dot(a: Float64Array, b: Float64Array): number {
  let v = 0;
  for (let i = 0; i < a.length; i++) v += a[i]! * b[i]!;
  return v;
}

/** In-place Cholesky factor (lower triangle) of an SPD p x p matrix; false when not SPD. */
function cholesky(a: Float64Array, p: number): boolean {
  for (let j = 0; j < p; j++) {
    let v = a[j * p + j]!;
    for (let k = 0; k < j; k++) v -= a[j * p + k]! ** 2;
    if (!(v > 1e-12)) return false;
    const l = Math.sqrt(v);
    a[j * p + j] = l;
    for (let i = j + 1; i < p; i++) {
      let w = a[i * p + j]!;
      for (let k = 0; k < j; k++) w -= a[i * p + k]! * a[j * p + k]!;
      a[i * p + j] = w / l;
    }
  }
  return true;
}

/** Solves L L' x = b in place with a factor from cholesky(). */
function choleskySolve(l: Float64Array, p: number, b: Float64Array): void {
  for (let i = 0; i < p; i++) {
    let v = b[i]!;
    for (let k = 0; k < i; k++) v -= l[i * p + k]! * b[k]!;
    b[i] = v / l[i * p + i]!;
  }
  for (let i = p - 1; i >= 0; i--) {
    let v = b[i]!;
    for (let k = i + 1; k < p; k++) v -= l[k * p + i]! * b[k]!;
    b[i] = v / l[i * p + i]!;
  }
}

function addTo(m: Map<number, number>, k: number, v: number): void {
  m.set(k, (m.get(k) ?? 0) + v);
}
