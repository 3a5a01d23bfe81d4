/**
 * Fetching ahead of need (`distfiles: "master"`): as soon as the build's plan
 * is known, the master fetches the distfiles of every package to build, in
 * the scheduler's priority order, beside the build. A package whose
 * distfiles the scan named is held back until they are verified in the
 * master's cache, so no host waits for a download at its `fetch` stage; one
 * that no site serves fails at `fetch` without taking a host.
 *
 * What the scan said is a forecast: the `fetch` stage still asks the host's
 * make and ships what it names (a file this missed is fetched then).
 */
import { parseDistfileQuery, type DistCache, type Distfile } from "./distfiles.js";

/** The distfiles of one package, from its scan. */
export interface PrefetchEntry {
  /** The package's distinfo in the master's tree. */
  readonly distinfo: string;
  readonly files: readonly Distfile[];
}

/** Per package (by PKGPATH) what the scan said of its distfiles; null where nothing is to fetch ahead. */
export function prefetchList(
  packages: readonly { readonly pkgpath: string }[],
  queries: ReadonlyMap<string, string>,
  tree: string,
): (PrefetchEntry | null)[] {
  return packages.map((p) => {
    const q = queries.get(p.pkgpath);
    return q === undefined ? null : prefetchEntry(q, tree);
  });
}

/** What a scan's distfile query says to fetch ahead; null where nothing is. */
export function prefetchEntry(query: string, tree: string): PrefetchEntry | null {
  const base = tree.replace(/\/+$/, "") + "/";
  const parsed = parseDistfileQuery(query);
  if (!parsed.ok || parsed.value.files.length === 0) return null;
  const { distinfo, files } = parsed.value;
  // Outside the master's tree (a chroot's own path): the fetch stage finds out.
  if (!distinfo.startsWith(base) || distinfo.includes("/../")) return null;
  return { distinfo, files };
}

/**
 * Fetching during the scan: the build's order is not known before the plan,
 * so the distfiles of each package whose own scan says it can be built (no
 * PKG_SKIP_REASON or PKG_FAIL_REASON) are fetched as its scan ends, in that
 * order, `workers` at once. Once the plan is made `stop()` ends it: what is
 * left is fetched by the Prefetcher in the scheduler's order (a file already
 * fetched, or being fetched, is not fetched again: the cache shares it).
 * A package that a dependency's failure later rules out may have been
 * fetched for nothing; the time saved on the rest is worth it.
 */
export class ScanFetcher {
  readonly #cache: DistCache;
  readonly #queue: PrefetchEntry[] = [];
  readonly #workers: number;
  #running = 0;
  #stopped = false;

  constructor(cache: DistCache, workers: number) {
    this.#cache = cache;
    this.#workers = Math.max(1, workers);
  }

  /** Queues a package's files (a failure is not final here: the Prefetcher tries again). */
  add(e: PrefetchEntry): void {
    if (this.#stopped) return;
    this.#queue.push(e);
    if (this.#running < this.#workers) void this.#work();
  }

  async #work(): Promise<void> {
    this.#running++;
    try {
      // (stop() empties the queue: what is in flight ends, nothing new starts.)
      for (let e = this.#queue.shift(); e !== undefined; e = this.#queue.shift())
        for (const f of e.files) await this.#cache.ensure(f, e.distinfo);
    } finally {
      this.#running--;
    }
  }

  /** Takes no more (the downloads in flight go on; the cache shares them with whoever asks). */
  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
  }
}

export interface PrefetchHooks {
  /** The package settled already (a dependency failed): nothing to fetch. */
  readonly settled: (task: number) => boolean;
  /** Its distfiles are in the cache: it may be dispatched. */
  readonly release: (task: number) => void;
  /** A distfile could not be had: the package fails at fetch. */
  readonly fail: (task: number, reason: string) => void;
  /** After each package (throttled by the caller if it likes). */
  readonly progress?: (p: PrefetchProgress) => void;
}

export interface PrefetchProgress {
  readonly done: number;
  readonly total: number;
  readonly failed: number;
  /** Bytes received from the sites so far. */
  readonly bytes: number;
  /** Bytes still to fetch (of files not yet in the cache). */
  readonly bytesLeft: number;
}

/** The rate the ETA assumes before the first download has been timed (bytes/s). */
const GUESS_RATE = 2e6;

export class Prefetcher {
  readonly #cache: DistCache;
  readonly #entries: readonly (PrefetchEntry | null)[];
  readonly #order: readonly number[];
  /** Bytes still to fetch per task (0 once done); sizes from distinfo. */
  readonly #bytes: Float64Array;
  readonly #counted = new Set<string>();
  #stopped = false;
  #done = 0;
  #failed = 0;

  /** `order`: the tasks to fetch for, most urgent first. */
  constructor(
    cache: DistCache,
    entries: readonly (PrefetchEntry | null)[],
    order: readonly number[],
  ) {
    this.#cache = cache;
    this.#entries = entries;
    this.#order = order.filter((t) => entries[t] != null);
    this.#bytes = new Float64Array(entries.length);
  }

  get total(): number {
    return this.#order.length;
  }

  /** Fetches for every task with `workers` at once; resolves when all are released or failed. */
  async run(hooks: PrefetchHooks, workers: number): Promise<void> {
    // Sizes first (distinfo is small), so the ETA can count what is left to fetch.
    for (const t of this.#order) {
      const e = this.#entries[t]!;
      for (const f of e.files) {
        if (this.#counted.has(f.name) || this.#cache.present(f.name)) continue;
        this.#counted.add(f.name);
        this.#bytes[t]! += (await this.#cache.expected(f.name, e.distinfo))?.size ?? 0;
      }
    }
    let next = 0;
    const one = async (): Promise<void> => {
      while (!this.#stopped && next < this.#order.length) {
        const t = this.#order[next++]!;
        if (hooks.settled(t)) hooks.release(t);
        else {
          const why = await this.#fetch(this.#entries[t]!);
          if (why === null) hooks.release(t);
          // (Read again: the build may have stopped during the download.)
          else if (!this.stopped) {
            this.#failed++;
            hooks.fail(t, why);
          }
        }
        this.#bytes[t] = 0;
        this.#done++;
        hooks.progress?.(this.progress());
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, workers) }, one));
  }

  async #fetch(e: PrefetchEntry): Promise<string | null> {
    for (const f of e.files) {
      const r = await this.#cache.ensure(f, e.distinfo);
      if (!r.ok) return r.error;
    }
    return null;
  }

  progress(): PrefetchProgress {
    let left = 0;
    for (const b of this.#bytes) left += b;
    return {
      done: this.#done,
      total: this.#order.length,
      failed: this.#failed,
      bytes: this.#cache.bytesFetched,
      bytesLeft: left,
    };
  }

  /**
   * When each still-held task is expected to be let go (seconds from now):
   * the bytes to fetch before it, in order, at the rate measured so far.
   */
  releaseTimes(): Map<number, number> {
    const rate = this.#cache.rate() ?? GUESS_RATE;
    const out = new Map<number, number>();
    let ahead = 0;
    for (const t of this.#order) {
      ahead += this.#bytes[t]!;
      out.set(t, ahead / rate);
    }
    return out;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Starts nothing more (the build stopped). */
  stop(): void {
    this.#stopped = true;
  }
}
