/**
 * What it costs to start a package on a host, before its own work begins:
 * the binary packages of its dependencies that the host does not hold cross
 * the host's link (after whatever the link already carries), and every
 * dependency is installed (a clean prefix installs them all, from the host's
 * cache when it holds them). A host that joined late is of use only once its
 * tree sync ends (`readyAt`).
 *
 * Per decision this costs O(the task's transitive dependencies) per host
 * looked at: a task's dependency closure is walked once, when it is first
 * asked about, and dropped when the task starts.
 */
import type { TaskGraph } from "./graph.js";

/** Bytes assumed for a package of unknown size (none built yet, no history of it): 1 MB. */
export const DEFAULT_PACKAGE_BYTES = 1e6;

/** What the scheduler is told about package sizes. */
export interface TransferOptions {
  /** Bytes of each task's binary package; undefined or NaN where not known yet. */
  readonly bytes?: ArrayLike<number | undefined> | undefined;
  /** Bytes assumed for a package whose size is not known. */
  readonly defaultBytes: number;
  /**
   * Whether a host holds the packages it built, ready for its dependents
   * (default true, as the simulator models it). herd build sends them back
   * from the master like any other: its hosts keep only what they were sent.
   */
  readonly keepsBuilt?: boolean | undefined;
  /**
   * Per task, every package it installs before its build, when that is more
   * than its transitive dependencies in the graph (herd build: packages that
   * are up to date are not tasks, yet each build installs them). Ids below
   * the graph's size are tasks; ids from there on are packages outside the
   * graph, whose sizes `bytes` carries after the tasks'.
   */
  readonly installs?: ArrayLike<Int32Array> | undefined;
}

/** What is known of one host's link and prefix. */
export interface HostCosts {
  /** Bytes per second from the master; Infinity: free (shared packages, or not measured yet). */
  link: number;
  /** Seconds to install one dependency package there (pkg_add), learned from its Depends stages. */
  install: number;
  /** When the host can start its first task (its tree sync ends); 0: at once. */
  readyAt: number;
  /** When what the link already carries should be through. */
  linkFree: number;
  /** 1 for each task whose package the host holds (built there or sent), made on first use. */
  held: Uint32Array | undefined;
  /** How many packages it holds, so a host holding none costs O(1) to ask about. */
  heldCount: number;
  /** Bumped whenever it comes to hold more: a remembered `missing` of an older version is stale. */
  version: number;
}

export class StartCosts {
  private readonly bytes: Float64Array;
  private readonly hosts: HostCosts[] = [];
  private readonly closures = new Map<number, Int32Array>();
  /** Per task asked about: the bytes of its closure, and per host asked its (version, missing bytes). */
  private readonly memo = new Map<number, { total: number; at: Map<number, [number, number]> }>();
  private readonly seen: Int32Array;
  private stamp = 0;
  /** Per task, the host (index) that built it, -1 when none here. */
  private readonly builtOn: Int32Array;
  private readonly keepsBuilt: boolean;
  private readonly installs: ArrayLike<Int32Array> | undefined;

  constructor(
    private readonly graph: TaskGraph,
    opts: TransferOptions,
  ) {
    // Tasks first, then the packages outside the graph that builds install.
    const n = Math.max(
      graph.names.length,
      opts.installs === undefined ? 0 : (opts.bytes?.length ?? 0),
    );
    this.installs = opts.installs;
    this.bytes = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const b = opts.bytes?.[t];
      this.bytes[t] = b !== undefined && b >= 0 ? b : opts.defaultBytes;
    }
    this.seen = new Int32Array(graph.names.length);
    this.builtOn = new Int32Array(graph.names.length).fill(-1);
    this.keepsBuilt = opts.keepsBuilt !== false;
  }

  /** Adds a host (index in order of adding): free link, no install cost, ready at once. */
  addHost(): number {
    this.hosts.push({
      link: Infinity,
      install: 0,
      readyAt: 0,
      linkFree: 0,
      held: undefined,
      heldCount: 0,
      version: 0,
    });
    return this.hosts.length - 1;
  }

  /** The host's figures, to be set by whoever measures them. */
  host(h: number): HostCosts {
    return this.hosts[h]!;
  }

  /** The real size of a task's package, once known (e.g. built into the repository). */
  setBytes(task: number, bytes: number): void {
    if (!(bytes >= 0 && Number.isFinite(bytes)) || this.bytes[task] === bytes) return;
    this.bytes[task] = bytes;
    // Rare (once per package built, before its dependents ask): what was remembered may count it.
    this.memo.clear();
  }

  /** The bytes assumed for a task's package. */
  bytesOf(task: number): number {
    return this.bytes[task]!;
  }

  /** What a build of the task installs: its transitive dependencies, or options.installs. */
  closure(task: number): Int32Array {
    const given = this.installs?.[task];
    if (given !== undefined) return given;
    let c = this.closures.get(task);
    if (c !== undefined) return c;
    const mark = ++this.stamp;
    const out: number[] = [];
    const stack = [...this.graph.deps[task]!];
    for (const d of stack) this.seen[d] = mark;
    while (stack.length > 0) {
      const d = stack.pop()!;
      out.push(d);
      for (const e of this.graph.deps[d]!) {
        if (this.seen[e] === mark) continue;
        this.seen[e] = mark;
        stack.push(e);
      }
    }
    c = Int32Array.from(out);
    this.closures.set(task, c);
    return c;
  }

  /**
   * Bytes of the task's dependencies the host does not hold. Remembered per
   * task and host until the host holds more, so a task that waits through
   * many decisions walks its closure again only for hosts that changed.
   */
  missing(task: number, h: number): number {
    const host = this.hosts[h]!;
    let m = this.memo.get(task);
    if (m === undefined) {
      let total = 0;
      for (const d of this.closure(task)) total += this.bytes[d]!;
      this.memo.set(task, (m = { total, at: new Map() }));
    }
    if (host.heldCount === 0) return m.total;
    const known = m.at.get(h);
    if (known !== undefined && known[0] === host.version) return known[1];
    const held = host.held!;
    let sum = 0;
    for (const d of this.closure(task))
      if (((held[d >>> 5]! >>> (d & 31)) & 1) === 0) sum += this.bytes[d]!;
    m.at.set(h, [host.version, sum]);
    return sum;
  }

  /**
   * Seconds from `at` (when a slot frees, never before `now`) until the task
   * can start its own work on the host: waiting for the host's sync, then
   * for its link, the transfer of what it lacks, and the installs.
   */
  cost(task: number, h: number, at: number): number {
    const host = this.hosts[h]!;
    const begin = Math.max(at, host.readyAt);
    const deps = this.closure(task);
    let ready = begin;
    if (host.link !== Infinity && deps.length > 0) {
      const bytes = this.missing(task, h);
      if (bytes > 0) ready = Math.max(begin, host.linkFree) + bytes / host.link;
    }
    return ready - at + host.install * deps.length;
  }

  /** The hosts that built the task's direct dependencies: they hold those (or were sent much of their closure). */
  builders(task: number): number[] {
    const out: number[] = [];
    for (const d of this.graph.deps[task]!) {
      const h = this.builtOn[d]!;
      if (h >= 0 && !out.includes(h)) out.push(h);
    }
    return out;
  }

  /**
   * The task starts on the host at `at`: what it lacked is sent (the link is
   * busy until it is through) and held from now on. Returns the start cost.
   */
  start(task: number, h: number, at: number): number {
    const cost = this.cost(task, h, at);
    const host = this.hosts[h]!;
    if (host.link !== Infinity) {
      const bytes = this.missing(task, h);
      if (bytes > 0) host.linkFree = Math.max(at, host.readyAt, host.linkFree) + bytes / host.link;
    }
    for (const d of this.closure(task)) this.hold(h, d);
    this.closures.delete(task);
    this.memo.delete(task);
    return cost;
  }

  /** The host built the task: it holds its package (unless options.keepsBuilt is false). */
  built(task: number, h: number): void {
    this.builtOn[task] = h;
    if (this.keepsBuilt) this.hold(h, task);
  }

  /** The host holds a task's package (e.g. its cache had it). */
  hold(h: number, task: number): void {
    const host = this.hosts[h]!;
    // A bit per package: 500 hosts on a 30,000-package tree hold 2 MB, not 15.
    host.held ??= new Uint32Array((this.bytes.length + 31) >>> 5);
    const bit = 1 << (task & 31);
    const word = host.held[task >>> 5]!;
    if ((word & bit) !== 0) return;
    host.held[task >>> 5] = word | bit;
    host.heldCount++;
    host.version++;
  }
}
