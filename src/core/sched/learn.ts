/**
 * Expected durations (seconds at speed 1.0) and host speeds, and how they
 * are learned while a build runs.
 *
 * A task's estimate is its history duration when there is one. Otherwise it
 * comes from a log-linear model fitted online to finished tasks:
 *
 *   log(elapsed) = x(task) . beta + o(host)        o(host) = -log(speed)
 *
 * x holds what the graph and scan tell of a package before it is built
 * (see features.ts): dependency counts, PBULK_WEIGHT, its category.
 * Hosts of unknown speed get an offset fitted jointly with beta, ridge-pulled
 * towards "as fast as the others"; two runs of the same package on two
 * hosts (see runs.ts) pin their ratio far better, and a copy still running
 * after another host built the whole package caps its speed relative to
 * that host at once. The category is a feature of the scan (PKG_LOCATION).
 * Before anything has finished every unknown task weighs the same, which
 * makes the critical-path priority a longest chain of packages.
 */
import { NormalEquations } from "./solve.js";
import { graphFeatures, predictLog, sparseFeatures, type FeatureSet } from "./features.js";
import type { TaskGraph } from "./graph.js";

export interface ModelOptions {
  /** History seconds at speed 1.0 per task; undefined where unknown. */
  readonly durations?: readonly (number | undefined)[] | undefined;
  /** PBULK_WEIGHT per task where the scan has one. */
  readonly weights?: readonly (number | undefined)[] | undefined;
  /** Category per task (first part of PKG_LOCATION), when known. */
  readonly categories?: readonly (string | undefined)[] | undefined;
  /** Fit the model to finished tasks (otherwise unknown tasks keep a fixed fallback). */
  readonly learn: boolean;
}

/** The regression as accumulated so far (see DurationModel.fit). */
interface Fit {
  readonly ne: NormalEquations;
  readonly hostCol: number[];
  /** Rows of modelled first runs, flat: row k's columns end at modelEnd[k]. */
  readonly modelCols: number[];
  readonly modelVals: number[];
  readonly modelY: number[];
  readonly modelEnd: number[];
}

interface Observation {
  readonly task: number;
  readonly host: number;
  readonly seconds: number;
}

interface Row {
  readonly cols: number[];
  readonly vals: number[];
  readonly y: number;
  /** True for a modelled task's first run (its residual measures the model's spread). */
  readonly model: boolean;
}

const FIRST_FIT = 6;
const REFIT_GROWTH = 1.2;
const HOST_RIDGE = 2;
const BETA_RIDGE = 0.5;
const CATEGORY_RIDGE = 1;
const MIN_SECONDS = 0.001;
/** A same-package pair of runs measures two hosts' speed ratio far better than a modelled run. */
const PAIR_WEIGHT = 4;
/** Pairs a host of unknown speed takes part in before it stops measuring itself (one pins the ratio; the regression refines it). */
const CALIBRATION_PAIRS = 1;

export class DurationModel {
  /** Current estimate per task, seconds at speed 1.0. */
  readonly est: Float64Array;
  private readonly known: Uint8Array;
  private readonly features: FeatureSet;
  /** Log-median work per task: known, observed, or predicted. */
  private readonly logWork: Float64Array;
  private beta: Float64Array;
  private lift = 0;
  private readonly speeds: number[] = [];
  private readonly speedKnown: boolean[] = [];
  private readonly observations: Observation[] = [];
  /** Index of the first observation of each observed task. */
  private readonly firstObs: Int32Array;
  /** Tasks observed at least once, in the order of their first observation. */
  private readonly observedTasks: number[] = [];
  private readonly pairs: number[] = [];
  /**
   * Upper bounds from copies that ran long without finishing: speed of
   * `host` <= ratio x speed of `ref`, the tightest per pair of hosts.
   */
  private readonly caps = new Map<string, { host: number; ref: number; ratio: number }>();
  private nextFit = FIRST_FIT;
  private typicalCache: number | undefined;
  /**
   * The regression's normal equations, accumulated as observations arrive
   * (a refit then only solves them), and the column of each host of unknown
   * speed (-1 when known). Dropped when a host's speed becomes known.
   */
  private fit: Fit | undefined;

  constructor(
    graph: TaskGraph,
    private readonly options: ModelOptions,
  ) {
    const n = graph.names.length;
    this.est = new Float64Array(n);
    this.known = new Uint8Array(n);
    this.logWork = new Float64Array(n);
    this.firstObs = new Int32Array(n).fill(-1);
    this.features = graphFeatures(graph, options.weights, options.categories);
    const knownSeconds: number[] = [];
    const durations = options.durations ?? [];
    for (let t = 0; t < n; t++) {
      const d = durations[t];
      if (d !== undefined && d >= 0) {
        this.known[t] = 1;
        this.est[t] = d;
        knownSeconds.push(d);
      }
    }
    // Before any fit every unknown task is a typical one: the median known duration, else 1.
    this.beta = new Float64Array(this.features.width);
    this.beta[0] = Math.log(
      knownSeconds.length > 0 ? Math.max(MIN_SECONDS, medianOf(knownSeconds)) : 1,
    );
    this.fallbackFromWeights(knownSeconds);
  }

  /** With PBULK_WEIGHT and no history, unknown tasks start proportional to their weight. */
  private fallbackFromWeights(knownSeconds: readonly number[]): void {
    const weights = this.options.weights;
    const median = Math.exp(this.beta[0]!);
    for (let t = 0; t < this.est.length; t++) {
      if (this.known[t] === 1) continue;
      const w = weights?.[t];
      this.est[t] = w !== undefined && w > 0 && knownSeconds.length === 0 ? w / 100 : median;
      this.logWork[t] = Math.log(Math.max(MIN_SECONDS, this.est[t]!));
    }
    for (let t = 0; t < this.est.length; t++)
      if (this.known[t] === 1) this.logWork[t] = Math.log(Math.max(MIN_SECONDS, this.est[t]!));
  }

  /** Registers a host; speed undefined means unknown, to be learned. Returns its index. */
  addHost(speed: number | undefined): number {
    this.speeds.push(speed ?? 1);
    this.speedKnown.push(speed !== undefined);
    this.pairs.push(0);
    this.fit?.hostCol.push(speed === undefined ? this.fit.ne.addSparseColumn() : -1);
    return this.speeds.length - 1;
  }

  /** The current speed estimate of a host (1.0 until learned when unknown). */
  speed(host: number): number {
    return this.speeds[host] ?? 1;
  }

  /** Fixes a host's speed (an operator override, or a figure learned elsewhere). */
  setSpeed(host: number, speed: number): void {
    if (this.speedKnown[host] === false) this.fit = undefined;
    this.speeds[host] = speed;
    this.speedKnown[host] = true;
  }

  /** True when the task's estimate comes from history rather than the model. */
  isKnown(task: number): boolean {
    return this.known[task] === 1;
  }

  /** The median estimate over all tasks: a "small" package is at most this. */
  get typical(): number {
    this.typicalCache ??= medianOf(Array.from(this.est));
    return this.typicalCache;
  }

  /** True while a host's speed is unknown and few same-package comparisons measured it. */
  needsCalibration(host: number): boolean {
    return (
      this.options.learn &&
      this.speedKnown[host] === false &&
      (this.pairs[host] ?? 0) < CALIBRATION_PAIRS
    );
  }

  /** Records that a task took `seconds` of wall time on a host (several hosts may report one task). */
  observe(task: number, host: number, seconds: number): void {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) return;
    const first = this.firstObs[task] ?? -1;
    if (first < 0) {
      this.firstObs[task] = this.observations.length;
      this.observedTasks.push(task);
    } else {
      const other = this.observations[first]!.host;
      if (other === host) return;
      this.pairs[host] = (this.pairs[host] ?? 0) + 1;
      this.pairs[other] = (this.pairs[other] ?? 0) + 1;
    }
    this.observations.push({ task, host, seconds: Math.max(MIN_SECONDS, seconds) });
    if (this.fit !== undefined) this.accumulate(this.observations.length - 1, this.fit);
  }

  /** The work (seconds at speed 1.0) a finished task took where it finished first, if observed. */
  observedWork(task: number): number | undefined {
    const first = this.firstObs[task] ?? -1;
    if (first < 0) return undefined;
    const o = this.observations[first]!;
    return o.seconds * this.speed(o.host);
  }

  /**
   * A copy has run `seconds` on a host without finishing a task another
   * host has finished: the host is at most that fast. Applied at once.
   */
  observeUnfinished(task: number, host: number, seconds: number): void {
    const first = this.firstObs[task] ?? -1;
    if (first < 0 || this.speedKnown[host] !== false || !(seconds > 0)) return;
    const o = this.observations[first]!;
    if (o.host === host) return;
    const key = `${host}/${o.host}`;
    const ratio = o.seconds / seconds;
    const prev = this.caps.get(key);
    if (prev !== undefined && prev.ratio <= ratio) return;
    this.caps.set(key, { host, ref: o.host, ratio });
    this.applyCaps();
  }

  private applyCaps(): void {
    for (const { host, ref, ratio } of this.caps.values()) {
      this.speeds[host] = Math.min(this.speeds[host] ?? 1, ratio * this.speed(ref));
    }
  }

  /** Refits when enough new observations arrived; true when estimates changed. */
  maybeRefit(): boolean {
    if (!this.options.learn || this.observations.length < this.nextFit) return false;
    this.nextFit = Math.ceil(this.observations.length * REFIT_GROWTH);
    return this.refit();
  }

  /** Adds observation i's regression row to the normal equations. */
  private accumulate(i: number, fit: Fit): void {
    const r = this.rowOf(i, fit.hostCol);
    fit.ne.add(r.cols, r.vals, r.y);
    if (!r.model) return;
    // Kept flat for the residuals (no allocation per row at each refit).
    fit.modelCols.push(...r.cols);
    fit.modelVals.push(...r.vals);
    fit.modelY.push(r.y);
    fit.modelEnd.push(fit.modelCols.length);
  }

  private rowOf(i: number, hostCol: readonly number[]): Row {
    const o = this.observations[i]!;
    const first = this.firstObs[o.task] ?? i;
    return first === i ? this.row(o, hostCol) : this.pairRow(o, this.observations[first]!, hostCol);
  }

  private refit(): boolean {
    this.typicalCache = undefined;
    const width = this.features.width;
    if (this.fit === undefined) {
      const hostCol: number[] = [];
      let p = width;
      for (let h = 0; h < this.speeds.length; h++)
        hostCol.push(this.speedKnown[h] === true ? -1 : p++);
      const fit: Fit = {
        ne: new NormalEquations(width, p - width),
        hostCol,
        modelCols: [],
        modelVals: [],
        modelY: [],
        modelEnd: [],
      };
      for (let i = 0; i < this.observations.length; i++) this.accumulate(i, fit);
      this.fit = fit;
    }
    const { ne, hostCol } = this.fit;
    const p = ne.size;
    const learnsDurations = this.known.some((k) => k === 0);
    if (p === width && !learnsDurations) return false;
    this.refreshObservedWork();
    const ridge = new Float64Array(p).fill(HOST_RIDGE);
    for (let i = 0; i < width; i++)
      ridge[i] = i === 0 ? 1e-6 : i >= this.features.numericWidth ? CATEGORY_RIDGE : BETA_RIDGE;
    const w = ne.solve(ridge);
    if (w === undefined) return false;
    // With no host of known speed the scale is free: call the fastest host 1.0.
    let shift = 0;
    if (!this.speedKnown.some((k) => k)) {
      shift = Infinity;
      for (const c of hostCol) shift = Math.min(shift, w[c]!);
      if (!Number.isFinite(shift)) shift = 0;
    }
    for (let h = 0; h < hostCol.length; h++) {
      const c = hostCol[h]!;
      if (c >= 0) this.speeds[h] = Math.exp(-(w[c]! - shift));
    }
    this.applyCaps();
    if (!learnsDurations) return true;
    this.beta = w.slice(0, width);
    this.beta[0] = this.beta[0]! + shift;
    // The residual spread turns the fitted log-median into a mean: chains add means.
    const { modelCols, modelVals, modelY, modelEnd } = this.fit;
    let sse = 0;
    const m = modelY.length;
    for (let k = 0, a = 0; k < m; k++) {
      let fit = 0;
      for (const end = modelEnd[k]!; a < end; a++) fit += w[modelCols[a]!]! * modelVals[a]!;
      sse += (modelY[k]! - fit) ** 2;
    }
    this.lift = (m > width ? Math.min(sse / (m - width), 4) : 1) / 2;
    this.refreshObservedWork();
    this.predict();
    return true;
  }

  /** Log work of every finished modelled task, at the current host speeds. */
  private refreshObservedWork(): void {
    for (const task of this.observedTasks) {
      if (this.known[task] === 1) continue;
      const o = this.observations[this.firstObs[task]!]!;
      this.logWork[task] = Math.log(Math.max(MIN_SECONDS, o.seconds * this.speed(o.host)));
    }
  }

  /** Re-estimates every unfinished modelled task. */
  private predict(): void {
    this.typicalCache = undefined;
    for (let t = 0; t < this.est.length; t++) {
      if (this.known[t] === 1) continue;
      if (this.firstObs[t]! >= 0) {
        this.est[t] = Math.exp(this.logWork[t]!);
        continue;
      }
      this.logWork[t] = predictLog(this.features, this.beta, t);
      this.est[t] = Math.exp(this.logWork[t]! + this.lift);
    }
  }

  /** A second run of a task: log(seconds here / seconds there) = o(here) - o(there), weighted. */
  private pairRow(o: Observation, first: Observation, hostCol: readonly number[]): Row {
    const cols: number[] = [];
    const vals: number[] = [];
    let y = Math.log(o.seconds / first.seconds);
    const add = (host: number, sign: number): void => {
      const c = hostCol[host] ?? -1;
      if (c >= 0) {
        cols.push(c);
        vals.push(sign * PAIR_WEIGHT);
      } else {
        y += sign * Math.log(this.speed(host));
      }
    };
    add(o.host, 1);
    add(first.host, -1);
    return { cols, vals, y: y * PAIR_WEIGHT, model: false };
  }

  /** One regression row: features for a modelled task, the host offset when unknown. */
  private row(o: Observation, hostCol: readonly number[]): Row {
    const cols: number[] = [];
    const vals: number[] = [];
    let y = Math.log(o.seconds);
    const model = this.known[o.task] === 0;
    if (model) {
      sparseFeatures(this.features, o.task, cols, vals);
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

function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) return 1;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
