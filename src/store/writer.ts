/**
 * The store's one writer, the event bus's recorder: it hears every event
 * before anyone else, keeps it in the events table, moves the packages it
 * speaks of through their machine (src/core/pkgstate.ts) and writes their
 * rows and the stage rows (facts.ts) — in the order the events came.
 *
 * A full build writes some 430,000 events and as many rows; an autocommit
 * per row managed about 9,000 events/s (bench/store.ts), so a burst of
 * events held the event loop that long. Writes are batched instead (5-10
 * times as fast): one transaction per batch, committed `maxDelayMs` after
 * its first event, once `maxEvents` wait, and at once for a built package
 * (its file enters the repository only once the store has it) or when
 * asked (`flush`). So the database always holds the facts of a prefix of the
 * stream: a master killed loses at most the last few milliseconds' events
 * (packages that were building start over), never a built package.
 */
import { packageTransition, type PackageState } from "../core/pkgstate.js";
import type { BuildEvent, EventBus } from "../events/types.js";
import { factsOf } from "./facts.js";
import type { BuildStore, PackagePatch, StageRow } from "./types.js";

export interface WriterOptions {
  /** Commit at the latest this long after the first uncommitted event (ms). */
  readonly maxDelayMs?: number;
  /** Commit once this many events wait. */
  readonly maxEvents?: number;
}

interface Pending {
  readonly e: BuildEvent;
  readonly timeMs: number;
  readonly packages: readonly { readonly pkgname: string; readonly patch: PackagePatch }[];
  readonly stage: StageRow | null;
}

export class EventWriter {
  readonly #store: BuildStore;
  readonly #buildId: number;
  readonly #maxDelayMs: number;
  readonly #maxEvents: number;
  // Each package's state as the events so far left it: moves are checked as they come.
  readonly #states = new Map<string, PackageState>();
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #failure: { readonly error: unknown } | undefined;
  #closed = false;
  #commits = 0;
  #detach: (() => void) | undefined;

  constructor(store: BuildStore, buildId: number, o: WriterOptions = {}) {
    this.#store = store;
    this.#buildId = buildId;
    this.#maxDelayMs = o.maxDelayMs ?? 10;
    this.#maxEvents = o.maxEvents ?? 1000;
  }

  /** Records the events of `bus` from now on, as its recorder, until close(). */
  attach(bus: EventBus): void {
    this.#detach = bus.record((e, t) => {
      this.write(e, t);
    });
  }

  /** The packages whose machines the events move, with their states now (the plan's, or a resumed build's). */
  track(states: Iterable<readonly [string, PackageState]>): void {
    for (const [name, state] of states) this.#states.set(name, state);
  }

  /** A package's state as the events so far left it. */
  state(pkgname: string): PackageState | undefined {
    return this.#states.get(pkgname);
  }

  /**
   * Hears one event that happened at `timeMs`. Throws only for a move a
   * package's machine refuses (a bug); a failed write is kept for flush().
   */
  write(e: BuildEvent, timeMs: number): void {
    if (this.#closed) throw new Error(`bug: ${e.type} event after the store's writer closed`);
    const facts = factsOf(e, timeMs);
    const packages = facts.moves.map((m) => {
      const from = this.#states.get(m.pkgname);
      const to = from === undefined ? undefined : packageTransition(from, m.event);
      if (to === undefined || !to.ok)
        throw new Error(`bug: package ${m.pkgname}: ${m.event.type} in state ${from ?? "unknown"}`);
      this.#states.set(m.pkgname, to.value);
      return { pkgname: m.pkgname, patch: { ...m.patch, state: to.value } };
    });
    // After a failed commit nothing more is written: the store keeps a prefix of the stream.
    if (this.#failure !== undefined) return;
    this.#pending.push({ e, timeMs, packages, stage: facts.stage });
    if (
      (e.type === "package-end" && e.result === "built") ||
      this.#pending.length >= this.#maxEvents
    )
      this.#commitKept();
    else
      this.#timer ??= setTimeout(() => {
        this.#commitKept();
      }, this.#maxDelayMs).unref();
  }

  /** Commits every event heard so far; throws if the store cannot (now, or at an earlier commit). */
  flush(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const store = this.#store;
    const id = this.#buildId;
    try {
      store.tx(() => {
        for (const p of batch) {
          store.appendEvent(id, p.timeMs, p.e.type, p.e);
          for (const r of p.packages) store.setPackage(id, r.pkgname, r.patch);
          if (p.stage !== null) store.recordStage(id, p.stage);
        }
      });
      this.#commits++;
    } catch (error) {
      this.#failure = { error };
      throw error;
    }
  }

  /** Why a commit failed (a full disk), if one did: the build stops with it. */
  get failure(): { readonly error: unknown } | undefined {
    return this.#failure;
  }

  /** Transactions committed so far. */
  get commits(): number {
    return this.#commits;
  }

  /** Stops recording and commits what waits; never throws (a failure stays in `failure`). */
  close(): void {
    this.#detach?.();
    this.#commitKept();
    this.#closed = true;
  }

  /** A commit whose failure is kept, not thrown: it runs inside emit() or a timer. */
  #commitKept(): void {
    try {
      this.flush();
    } catch {
      // Kept in #failure: flush() throws it to whoever asks next.
    }
  }
}
