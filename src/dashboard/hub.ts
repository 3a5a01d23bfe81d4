/**
 * Where the dashboard's state comes from. Both hubs fold events into one
 * DashState and tell the server what changed:
 *
 * - the bus hub lives in the master (`herd build --dashboard`): it hears
 *   every event as it is emitted, and when a build resumes it first replays
 *   what the earlier master stored;
 * - the store hub (`herd serve`) replays the latest build's events from the
 *   work directory's store, then follows the store while a master writes to
 *   it (a newer build replaces the one shown).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildEvent, EventBus } from "../events/types.js";
import type { Store } from "../store/store.js";
import { applyEvent, emptyState, type DashState } from "./state.js";

/** What changed: the runs touched, or everything (a new build). */
export type Change =
  { readonly kind: "runs"; readonly ids: readonly number[] } | { readonly kind: "reset" };

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

  /** Replays a build's stored events after `afterSeq`; returns the last seq seen. */
  protected replay(buildId: number, afterSeq: number): { seq: number; ids: number[] } {
    let seq = afterSeq;
    const ids: number[] = [];
    for (const row of this.store?.events(buildId, afterSeq) ?? []) {
      seq = row.seq;
      const e = parseEvent(row.data);
      if (e === null) continue;
      if (e.type === "build-start" && this.s.build !== null && this.s.build.id !== e.build)
        this.s = emptyState();
      for (const id of applyEvent(this.s, e, row.timeMs)) ids.push(id);
    }
    return { seq, ids };
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
        if (e.resumed) this.replay(e.build, 0);
      }
      applyEvent(this.s, e, t);
      this.notify({ kind: "reset" });
      return;
    }
    const ids = applyEvent(this.s, e, t);
    this.notify({ kind: "runs", ids });
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

  constructor(store: Store, lockFile: string, pollMs: number, logsDir?: string) {
    super();
    this.store = store;
    this.logsDir = logsDir ?? null;
    this.#lock = lockFile;
    this.poll();
    if (pollMs > 0)
      this.#timer = setInterval(() => {
        this.poll();
      }, pollMs);
  }

  /** Reads what the store has gained since the last poll. */
  poll(): void {
    const store = this.store;
    if (store === null) return;
    const last = store.lastBuild();
    if (last === undefined) return;
    if (last.id !== this.#buildId) {
      this.#buildId = last.id;
      this.s = emptyState();
      this.#seq = this.replay(last.id, 0).seq;
      this.notify({ kind: "reset" });
      return;
    }
    const { seq, ids } = this.replay(last.id, this.#seq);
    if (seq !== this.#seq) {
      this.#seq = seq;
      this.notify({ kind: "runs", ids });
    }
  }

  live(): boolean {
    return masterAlive(this.#lock) && this.s.finished === null;
  }

  override close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
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
