/**
 * Expected durations (seconds at speed 1.0) and host speeds, and how they
 * are learned while a build runs.
 *
 * A task's estimate is its history duration when there is one. Otherwise it
 * comes from a log-linear model over what the scan tells about every package
 * (how many packages it depends on directly and transitively, PBULK_WEIGHT
 * when present), fitted online to finished tasks:
 *
 *   log(elapsed) = x(task) . beta + o(host)        o(host) = -log(speed)
 *
 * Hosts of unknown speed get an offset fitted jointly with beta (ridge-pulled
 * towards "as fast as the others"), so one regression learns durations and
 * speeds at once; tasks with a known duration contribute to the speeds only.
 * Before anything has finished every unknown task weighs the same, which
 * makes the critical-path priority a longest chain of packages.
 */
import { NormalEquations } from "./solve.js";
import { transitiveDependencyCounts, type TaskGraph } from "./graph.js";

export interface ModelOptions {
  /** History seconds at speed 1.0 per task; undefined where unknown. */
  readonly durations?: readonly (number | undefined)[] | undefined;
  /** PBULK_WEIGHT per task where the scan has one. */
  readonly weights?: readonly (number | undefined)[] | undefined;
  /** Fit the model to finished tasks (otherwise unknown tasks keep a fixed fallback). */
  readonly learn: boolean;
}

interface Observation {
  readonly task: number;
  readonly host: number;
  readonly seconds: number;
}

const FIRST_FIT = 6;
const REFIT_GROWTH = 1.2;
const HOST_RIDGE = 2;
const BETA_RIDGE = 0.05;
const MIN_SECONDS = 0.001;

export class DurationModel {
  /** Current estimate per task, seconds at speed 1.0. */
  readonly est: Float64Array;
  private readonly known: Uint8Array;
  private readonly features: Float64Array[];
  private readonly nFeatures: number;
  private readonly speeds: number[] = [];
  private readonly speedKnown: boolean[] = [];
  private readonly observations: Observation[] = [];
  private nextFit = FIRST_FIT;

  constructor(
    graph: TaskGraph,
    private readonly options: ModelOptions,
  ) {
    const n = graph.names.length;
    this.est = new Float64Array(n);
    this.known = new Uint8Array(n);
    const durations = options.durations ?? [];
    const weights = options.weights ?? [];
    const hasWeights = weights.some((w) => w !== undefined && w > 0);
    const trans = transitiveDependencyCounts(graph);
    this.nFeatures = hasWeights ? 4 : 3;
    this.features = [];
    const knownSeconds: number[] = [];
    for (let t = 0; t < n; t++) {
      const d = durations[t];
      if (d !== undefined && d >= 0) {
        this.known[t] = 1;
        this.est[t] = d;
        knownSeconds.push(d);
      }
      const f = new Float64Array(this.nFeatures);
      f[0] = 1;
      f[1] = Math.log1p(graph.deps[t]!.length);
      f[2] = Math.log1p(trans[t]!);
      if (hasWeights) f[3] = Math.log(Math.max(1, weights[t] ?? 100));
      this.features.push(f);
    }
    this.fillFallback(knownSeconds, weights, hasWeights);
  }

  /**
   * Unknown tasks before any fit: PBULK_WEIGHT scaled to seconds by the
   * packages that have both, else the median known duration, else 1.
   */
  private fillFallback(
    knownSeconds: number[],
    weights: readonly (number | undefined)[],
    hasWeights: boolean,
  ): void {
    const median = knownSeconds.length > 0 ? medianOf(knownSeconds) : 1;
    const ratios: number[] = [];
    if (hasWeights) {
      for (let t = 0; t < this.est.length; t++) {
        const w = weights[t];
        if (this.known[t] === 1 && w !== undefined && w > 0) ratios.push(this.est[t]! / w);
      }
    }
    const perWeight = ratios.length > 0 ? medianOf(ratios) : knownSeconds.length > 0 ? median / 100 : 0.01;
    for (let t = 0; t < this.est.length; t++) {
      if (this.known[t] === 1) continue;
      const w = weights[t];
      this.est[t] = hasWeights && w !== undefined && w > 0 ? w * perWeight : median;
    }
  }

  /** Registers a host; speed undefined means unknown, to be learned. Returns its index. */
  addHost(speed: number | undefined): number {
    this.speeds.push(speed ?? 1);
    this.speedKnown.push(speed !== undefined);
    return this.speeds.length - 1;
  }

  /** The current speed estimate of a host (1.0 until learned when unknown). */
  speed(host: number): number {
    return this.speeds[host] ?? 1;
  }

  /** Fixes a host's speed (an operator override, or a figure learned elsewhere). */
  setSpeed(host: number, speed: number): void {
    this.speeds[host] = speed;
    this.speedKnown[host] = true;
  }

  /** True when the task's estimate comes from history rather than the model. */
  isKnown(task: number): boolean {
    return this.known[task] === 1;
  }

  /** Records that a task took `seconds` of wall time on a host. */
  observe(task: number, host: number, seconds: number): void {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) return;
    this.observations.push({ task, host, seconds: Math.max(MIN_SECONDS, seconds) });
  }

  /** Refits when enough new observations arrived; true when estimates changed. */
  maybeRefit(): boolean {
    if (!this.options.learn || this.observations.length < this.nextFit) return false;
    this.nextFit = Math.ceil(this.observations.length * REFIT_GROWTH);
    return this.refit();
  }

  private refit(): boolean {
    const hostCol: number[] = [];
    let p = this.nFeatures;
    for (let h = 0; h < this.speeds.length; h++) hostCol.push(this.speedKnown[h] === true ? -1 : p++);
    const learnsDurations = this.known.some((k) => k === 0);
    if (p === this.nFeatures && !learnsDurations) return false;
    const ne = new NormalEquations(p);
    const rows = this.observations.map((o) => this.row(o, hostCol));
    for (const r of rows) ne.add(r.cols, r.vals, r.y);
    const ridge = new Float64Array(p).fill(HOST_RIDGE);
    for (let i = 0; i < this.nFeatures; i++) ridge[i] = i === 0 ? 1e-6 : BETA_RIDGE;
    const w = ne.solve(ridge);
    if (w === undefined) return false;
    // With no host of known speed the scale is free: call the fastest host 1.0.
    let shift = 0;
    if (!this.speedKnown.some((k) => k)) {
      shift = Infinity;
      for (let h = 0; h < hostCol.length; h++) shift = Math.min(shift, w[hostCol[h]!]!);
      if (!Number.isFinite(shift)) shift = 0;
    }
    for (let h = 0; h < hostCol.length; h++) {
      const c = hostCol[h]!;
      if (c >= 0) this.speeds[h] = Math.exp(-(w[c]! - shift));
    }
    if (!learnsDurations) return true;
    // Residual spread turns the fitted log-median into a mean, as chains add means.
    let sse = 0;
    let m = 0;
    for (const r of rows) {
      if (!r.model) continue;
      let fit = 0;
      for (let a = 0; a < r.cols.length; a++) fit += w[r.cols[a]!]! * r.vals[a]!;
      sse += (r.y - fit) ** 2;
      m++;
    }
    const variance = m > this.nFeatures ? sse / (m - this.nFeatures) : 1;
    const lift = Math.min(variance, 4) / 2 + shift;
    for (let t = 0; t < this.est.length; t++) {
      if (this.known[t] === 1) continue;
      const f = this.features[t]!;
      let mu = 0;
      for (let i = 0; i < this.nFeatures; i++) mu += w[i]! * f[i]!;
      this.est[t] = Math.exp(mu + lift);
    }
    return true;
  }

  /** One regression row: features for a modelled task, the host offset when unknown. */
  private row(o: Observation, hostCol: readonly number[]): { cols: number[]; vals: number[]; y: number; model: boolean } {
    const cols: number[] = [];
    const vals: number[] = [];
    let y = Math.log(o.seconds);
    const model = this.known[o.task] === 0;
    if (model) {
      const f = this.features[o.task]!;
      for (let i = 0; i < this.nFeatures; i++) {
        cols.push(i);
        vals.push(f[i]!);
      }
    } else {
      y -= Math.log(Math.max(MIN_SECONDS, this.est[o.task]!));
    }
    const c = hostCol[o.host] ?? -1;
    if (c >= 0) {
      cols.push(c);
      vals.push(1);
    } else {
      y += Math.log(this.speed(o.host));
    }
    return { cols, vals, y, model };
  }
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
