/**
 * Where the dashboard's state comes from. Both hubs fold events into one
 * DashState, once for all pages, and tell the server what changed:
 *
 * - the bus hub lives in the master (`herd build --dashboard`): it hears
 *   every event as it is emitted, and when a build resumes it first replays
 *   what the earlier master stored;
 * - the store hub (`herd serve`) replays the latest build's events from the
 *   work directory's store, then follows the store while a master writes to
 *   it (a newer build replaces the one shown).
 *
 * Stored events are read a page (PAGE events) at a time and folded as they
 * come, so a build of 400,000 events is never in memory at once, and a
 * poll that finds a long backlog folds at most POLL_MAX before it lets the
 * server answer again.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildEvent, EventBus } from "../events/types.js";
import type { Store } from "../store/store.js";
import { applyEvent, emptyState, newDelta, type DashState, type Delta } from "./state.js";

/** What changed: a delta, or everything (another build, or the same one resumed). */
export type Change = { readonly kind: "delta"; readonly delta: Delta } | { readonly kind: "reset" };

/** Events read from the store at once. */
export const PAGE = 5000;
/** Events a poll folds before it yields to the server. */
export const POLL_MAX = 50_000;

export interface Hub {
  /** The state now (owned by the hub: read, do not keep). */
  state(): DashState;
  /** Whether a master is running this build now. */
  live(): boolean;
  subscribe(listener: (c: Change) => void): () => void;
  /** The log file of a stage of a package in the build shown, or null. */
  logFile(pkgname: string, stage: string): string | null;
  close(): void;
}

abstract class BaseHub {
  protected s: DashState = emptyState();
  readonly #listeners = new Set<(c: Change) => void>();
  protected store: Store | null = null;
  /** WORK/logs, where a running stage's log grows (null: not known, finished stages only). */
  protected logsDir: string | null = null;

  state(): DashState {
    return this.s;
  }

  subscribe(listener: (c: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  protected notify(c: Change): void {
    for (const l of this.#listeners) l(c);
  }

  /**
   * Folds a build's stored events after `afterSeq`, a page at a time, at
   * most `max` of them; returns the last seq read, how many were read, and
   * whether a build-start came (the pages need a snapshot).
   */
  protected replay(
    buildId: number,
    afterSeq: number,
    d: Delta,
    max = Infinity,
  ): { seq: number; read: number; reset: boolean } {
    let seq = afterSeq;
    let read = 0;
    let reset = false;
    const store = this.store;
    if (store === null) return { seq, read, reset };
    while (read < max) {
      const rows = store.eventsPage(buildId, seq, Math.min(PAGE, max - read));
      for (const row of rows) {
        seq = row.seq;
        const e = parseEvent(row.data);
        if (e === null) continue;
        if (e.type === "build-start") {
          reset = true;
          if (this.s.build !== null && this.s.build.id !== e.build) this.s = emptyState();
        }
        applyEvent(this.s, e, row.timeMs, d);
      }
      read += rows.length;
      if (rows.length < PAGE) break;
    }
    return { seq, read, reset };
  }

  logFile(pkgname: string, stage: string): string | null {
    const build = this.s.build;
    if (build === null || this.store === null) return null;
    try {
      const stored = this.store.stages(build.id, pkgname).find((r) => r.stage === stage)?.log;
      if (stored !== undefined) return stored;
    } catch {
      return null;
    }
    return this.liveLogFile(pkgname, stage);
  }

  /** The log the master streams of the stage a package runs now (see src/bulk/livelog.ts). */
  private liveLogFile(pkgname: string, stage: string): string | null {
    if (this.logsDir === null || !SAFE.test(pkgname) || !SAFE.test(stage)) return null;
    for (const h of this.s.hosts.values())
      for (const p of h.running)
        if (p.pkgname === pkgname && p.stage === stage)
          return join(this.logsDir, pkgname, `${stage}.log`);
    return null;
  }

  close(): void {
    this.#listeners.clear();
  }
}

/** A PKGNAME or stage name that is one plain path component. */
const SAFE = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/;

function parseEvent(data: string): BuildEvent | null {
  try {
    const v = JSON.parse(data) as unknown;
    return typeof v === "object" && v !== null && typeof (v as { type?: unknown }).type === "string"
      ? (v as BuildEvent)
      : null;
  } catch {
    return null;
  }
}

/** The hub of a running master: fed by its event bus. */
export class BusHub extends BaseHub implements Hub {
  readonly #off: () => void;
  readonly #openStore: () => Store | null;
  #closed = false;

  /** `openStore` opens the work directory's store once the build has started (null: none). */
  constructor(bus: EventBus, openStore: () => Store | null, logsDir?: string) {
    super();
    this.#openStore = openStore;
    this.logsDir = logsDir ?? null;
    this.#off = bus.on((e, t) => {
      this.#onEvent(e, t);
    });
  }

  #onEvent(e: BuildEvent, t: number): void {
    if (this.#closed) return;
    if (e.type === "build-start") {
      this.store ??= this.#openStore();
      if (this.s.build?.id !== e.build) {
        this.s = emptyState();
        // A resumed build: what the earlier master stored comes first (this event is not stored yet).
        if (e.resumed) this.replay(e.build, 0, newDelta());
      }
      applyEvent(this.s, e, t);
      this.notify({ kind: "reset" });
      return;
    }
    const delta = newDelta();
    applyEvent(this.s, e, t, delta);
    this.notify({ kind: "delta", delta });
  }

  live(): boolean {
    return !this.#closed;
  }

  override close(): void {
    this.#closed = true;
    this.#off();
    super.close();
    this.store?.close();
    this.store = null;
  }
}

/** The hub of `herd serve`: the store of a work directory, followed by polling. */
export class StoreHub extends BaseHub implements Hub {
  readonly #lock: string;
  #buildId = -1;
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #more: NodeJS.Immediate | null = null;

  /** Folds the latest build's stored events before it returns, then polls every `pollMs` (0: never). */
  constructor(store: Store, lockFile: string, pollMs: number, logsDir?: string) {
    super();
    this.store = store;
    this.logsDir = logsDir ?? null;
    this.#lock = lockFile;
    this.poll(Infinity);
    if (pollMs > 0)
      this.#timer = setInterval(() => {
        this.#follow();
      }, pollMs);
  }

  /** Polls, and again at once (after the server's turn) while a backlog remains. */
  #follow(): void {
    if (this.#more !== null) return;
    if (this.poll())
      this.#more = setImmediate(() => {
        this.#more = null;
        this.#follow();
      });
  }

  /** Folds what the store gained since the last poll, at most `max` events; true if more may wait. */
  poll(max = POLL_MAX): boolean {
    const store = this.store;
    if (store === null) return false;
    const last = store.lastBuild();
    if (last === undefined) return false;
    if (last.id !== this.#buildId) {
      this.#buildId = last.id;
      this.#seq = 0;
      this.s = emptyState();
      const r = this.replay(last.id, 0, newDelta(), max);
      this.#seq = r.seq;
      this.notify({ kind: "reset" });
      return r.read >= max;
    }
    const delta = newDelta();
    const r = this.replay(last.id, this.#seq, delta, max);
    if (r.read === 0) return false;
    this.#seq = r.seq;
    this.notify(r.reset ? { kind: "reset" } : { kind: "delta", delta });
    return r.read >= max;
  }

  live(): boolean {
    return masterAlive(this.#lock) && this.s.finished === null;
  }

  override close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#more !== null) clearImmediate(this.#more);
    this.#timer = null;
    this.#more = null;
    super.close();
    this.store?.close();
    this.store = null;
  }
}

/** True when the work directory's lock names a live process. */
export function masterAlive(lockFile: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile, "utf8").trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
