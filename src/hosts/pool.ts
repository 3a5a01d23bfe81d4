/**
 * The pool of build hosts: brings each host up (transport, agent, sync),
 * watches it with heartbeats, runs tasks on it, and moves it through its
 * state machine. A task on a host that is lost comes back as a `lost`
 * failure: the caller requeues it. Hosts may be added, drained and removed at
 * any time.
 */
import { performance } from "node:perf_hooks";
import type { HostName } from "../core/hostspec.js";
import { err, ok, type Result } from "../protocol/result.js";
import {
  AgentConnection,
  type AgentInfo,
  type ConnectionOptions,
  type RequestFailure,
  type RunSpec,
  type RunningTask,
  type StepListener,
  type StepsSpec,
  type TaskResult,
} from "./connection.js";
import { inSlot, NO_SANDBOX, type SlotSandbox } from "./sandbox.js";
import { acceptsTasks, transition, type HostEvent, type HostState } from "./state.js";
import type { Transport } from "./transport.js";

export interface HostConfig {
  readonly name: HostName;
  readonly transport: Transport;
  readonly slots: number;
  /** Relative speed (1.0 = the reference host); a hint for placement. */
  readonly speed: number;
  readonly tags: readonly string[];
  /** How each slot's commands get their private prefix (default: no sandbox). */
  readonly sandbox?: SlotSandbox;
}

/** What one busy slot of a host runs. */
export interface SlotTask {
  /** 1-based. */
  readonly slot: number;
  /** What runs there: a PKGNAME, `scan PKGPATH`, ... */
  readonly label: string;
  /** Date.now() when it started. */
  readonly since: number;
}

/**
 * One slot of a host, held for the length of a task: every command the task
 * runs goes through it, inside the slot's sandbox.
 */
export interface Lease {
  readonly host: HostName;
  readonly slot: number;
  /** The agent's root directory on the host. */
  readonly root: string;
  readonly conn: AgentConnection;
  /** Starts a command in this slot. */
  start(spec: RunSpec): RunningTask;
  run(spec: RunSpec): Promise<Result<TaskResult, RequestFailure>>;
  /** Starts a task of several steps in this slot (each step in the slot's sandbox); see AgentConnection.startSteps. */
  startSteps(spec: StepsSpec, onStep: StepListener): RunningTask;
}

export interface HostSnapshot {
  readonly name: HostName;
  readonly state: HostState;
  readonly slots: number;
  readonly free: number;
  readonly speed: number;
  readonly tags: readonly string[];
  readonly transport: string;
  /** Consecutive failures (link lost, connect failed, reported); reset by a finished task. */
  readonly failures: number;
  readonly info: AgentInfo | null;
  /** The busy slots, in slot order. */
  readonly tasks: readonly SlotTask[];
  /** Seconds its last finished sync took (the tree, the bootstrap kit), if it finished one. */
  readonly syncSeconds?: number;
}

export type PoolEvent =
  | {
      readonly type: "state";
      readonly host: HostName;
      readonly from: HostState;
      readonly to: HostState;
    }
  | { readonly type: "note"; readonly host: HostName; readonly message: string };

/** Why the pool would not run a task: the host cannot take one now. */
export type RunFailure =
  RequestFailure | { readonly reason: "unavailable"; readonly message: string };

export interface PoolError {
  readonly reason: "duplicate" | "unknown";
  readonly message: string;
}

/** Brings a freshly connected host's copy of the tree up to date (the "syncing" state). */
export type Prepare = (conn: AgentConnection, host: HostConfig) => Promise<Result<string, string>>;

export interface PoolOptions {
  /** How often an idle link is pinged. */
  readonly heartbeatIntervalMs?: number;
  /** No byte from the host for this long ⇒ lost. */
  readonly heartbeatTimeoutMs?: number;
  /** Wait before reconnecting a lost host. */
  readonly retryDelayMs?: number;
  /** Consecutive failures before a host is quarantined. */
  readonly maxFailures?: number;
  readonly connection?: ConnectionOptions;
  readonly prepare?: Prepare;
}

interface Entry {
  readonly config: HostConfig;
  state: HostState;
  conn: AgentConnection | null;
  failures: number;
  lastPing: number;
  retryTimer: NodeJS.Timeout | null;
  /** Bumped on every connection attempt, so stale async work knows to stop. */
  gen: number;
  /** Busy slots: index K-1 holds slot K's task. */
  readonly slots: (SlotTask | null)[];
  needsSync: boolean;
  /** Seconds the last finished sync took. */
  syncSeconds: number | undefined;
}

export class HostPool {
  readonly #hosts = new Map<HostName, Entry>();
  readonly #listeners = new Set<(e: PoolEvent) => void>();
  #waiters: (() => void)[] = [];
  readonly #opts: Required<Omit<PoolOptions, "prepare" | "connection">> & PoolOptions;
  #timer: NodeJS.Timeout | null = null;
  /** Links being closed by hosts that left; close() waits for them. */
  readonly #leaving = new Set<Promise<void>>();
  #closed = false;

  constructor(opts: PoolOptions = {}) {
    this.#opts = {
      heartbeatIntervalMs: 5_000,
      heartbeatTimeoutMs: 30_000,
      retryDelayMs: 5_000,
      maxFailures: 3,
      ...opts,
    };
  }

  /** Adds a host and starts connecting to it. */
  add(config: HostConfig): Result<void, PoolError> {
    const old = this.#hosts.get(config.name);
    if (old !== undefined && old.state.kind !== "gone") {
      return err({ reason: "duplicate", message: `host ${config.name} is already in the pool` });
    }
    const e: Entry = {
      config,
      state: { kind: "connecting" },
      conn: null,
      failures: 0,
      lastPing: 0,
      retryTimer: null,
      gen: 0,
      slots: Array.from({ length: config.slots }, () => null),
      needsSync: true,
      syncSeconds: undefined,
    };
    this.#hosts.set(config.name, e);
    this.#emit({
      type: "state",
      host: config.name,
      from: { kind: "gone", reason: "new" },
      to: e.state,
    });
    this.#startHeartbeats();
    void this.#bringUp(e);
    return ok(undefined);
  }

  /** The host finishes what it runs, takes nothing new, then leaves. */
  drain(name: HostName): Result<void, PoolError> {
    const e = this.#hosts.get(name);
    if (e === undefined || e.state.kind === "gone") return err(unknown(name));
    if (e.retryTimer !== null) clearTimeout(e.retryTimer);
    this.#apply(e, { type: "drain" });
    return ok(undefined);
  }

  /** The host leaves at once; its running tasks fail as lost (to be requeued). */
  remove(name: HostName, reason = "removed"): Result<void, PoolError> {
    const e = this.#hosts.get(name);
    if (e === undefined || e.state.kind === "gone") return err(unknown(name));
    if (e.retryTimer !== null) clearTimeout(e.retryTimer);
    this.#apply(e, { type: "remove", reason });
    return ok(undefined);
  }

  /** A failure the caller blames on the host (e.g. its disk is full): counts towards quarantine. */
  reportFailure(name: HostName, reason: string): void {
    const e = this.#hosts.get(name);
    if (e === undefined || e.conn === null) return;
    // Dropping the link counts the failure (in #failed) and quarantines the host.
    if (e.failures + 1 >= this.#opts.maxFailures) e.conn.destroy(reason);
    else e.failures++;
  }

  /** The tree changed: every host syncs again before its next task. */
  resync(): void {
    for (const e of this.#hosts.values()) {
      e.needsSync = true;
      if (e.state.kind === "idle") this.#startSync(e);
    }
  }

  list(): HostSnapshot[] {
    return [...this.#hosts.values()].map((e) => this.#snapshot(e));
  }

  get(name: HostName): HostSnapshot | undefined {
    const e = this.#hosts.get(name);
    return e === undefined ? undefined : this.#snapshot(e);
  }

  /** The live agent connection of a host that accepts work (for put/get). */
  connection(name: HostName): AgentConnection | null {
    return this.#hosts.get(name)?.conn ?? null;
  }

  subscribe(listener: (e: PoolEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves at the next pool event (a state change, a task ending). */
  changed(): Promise<void> {
    return new Promise((res) => this.#waiters.push(res));
  }

  /**
   * Runs `body` in a free slot of a host: the slot, the host's state
   * (idle ⇄ busy, draining → gone) and its failure counter follow the task.
   * `unavailable` when the host cannot take a task now; a task whose host
   * is lost meanwhile sees its commands fail as `lost`.
   */
  async task<T>(
    name: HostName,
    label: string,
    body: (lease: Lease) => Promise<T>,
  ): Promise<Result<T, RunFailure>> {
    const e = this.#hosts.get(name);
    if (e === undefined) return err({ reason: "unavailable", message: `no host ${name}` });
    const conn = e.conn;
    const k = e.slots.indexOf(null);
    if (conn === null || !acceptsTasks(e.state) || e.needsSync || k < 0) {
      return err({ reason: "unavailable", message: `host ${name} cannot take a task now` });
    }
    const gen = e.gen;
    const failuresBefore = e.failures;
    const slot = k + 1;
    e.slots[k] = { slot, label, since: Date.now() };
    this.#apply(e, { type: "taskStarted" });
    const sandbox = e.config.sandbox ?? NO_SANDBOX;
    const root = conn.info.root;
    const lease: Lease = {
      host: name,
      slot,
      root,
      conn,
      start: (spec) => conn.start(inSlot(sandbox, slot, root, spec)),
      run: (spec) => conn.start(inSlot(sandbox, slot, root, spec)).result,
      startSteps: (spec, onStep) =>
        conn.startSteps(
          {
            ...spec,
            steps: spec.steps.map((s) => ({ ...s, argv: inSlot(sandbox, slot, root, s).argv })),
          },
          onStep,
        ),
    };
    try {
      return ok(await body(lease));
    } finally {
      e.slots[k] = null;
      if (gen === e.gen && (e.state.kind === "busy" || e.state.kind === "draining")) {
        // A task that ended with no failure reported meanwhile shows the host works.
        if (e.failures <= failuresBefore) e.failures = 0;
        this.#apply(e, { type: "taskEnded" });
        if (stateOf(e).kind === "idle" && syncPending(e)) this.#startSync(e);
      }
    }
  }

  /** Runs one command in a free slot of a host; `lost` means requeue it elsewhere. */
  async run(name: HostName, spec: RunSpec): Promise<Result<TaskResult, RunFailure>> {
    const r = await this.task(name, spec.argv.join(" ").slice(0, 80), (l) => l.run(spec));
    return r.ok ? r.value : r;
  }

  /** Closes every link (agents kill their tasks) and stops the timers. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const e of this.#hosts.values()) {
      if (e.retryTimer !== null) clearTimeout(e.retryTimer);
      if (e.state.kind !== "gone") this.#apply(e, { type: "remove", reason: "pool closed" });
    }
    await Promise.all(this.#leaving);
    await Promise.all(
      [...this.#hosts.values()].map((e) => e.config.transport.dispose?.() ?? Promise.resolve()),
    );
  }

  #snapshot(e: Entry): HostSnapshot {
    const free =
      acceptsTasks(e.state) && !e.needsSync ? e.slots.filter((t) => t === null).length : 0;
    return {
      name: e.config.name,
      state: e.state,
      slots: e.config.slots,
      free,
      speed: e.config.speed,
      tags: e.config.tags,
      transport: e.config.transport.description,
      failures: e.failures,
      info: e.conn?.closed === null ? e.conn.info : null,
      tasks: e.slots.filter((t): t is SlotTask => t !== null),
      ...(e.syncSeconds === undefined ? {} : { syncSeconds: e.syncSeconds }),
    };
  }

  #emit(ev: PoolEvent): void {
    for (const l of this.#listeners) l(ev);
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }

  #note(e: Entry, message: string): void {
    this.#emit({ type: "note", host: e.config.name, message });
  }

  #apply(e: Entry, ev: HostEvent): void {
    const r = transition(e.state, ev);
    if (!r.ok) throw new Error(`bug: host ${e.config.name}: ${ev.type} in state ${e.state.kind}`);
    const from = e.state;
    e.state = r.value;
    if (from === e.state) return;
    this.#emit({ type: "state", host: e.config.name, from, to: e.state });
    if (e.state.kind === "gone") this.#leave(e);
  }

  /** A host that is gone lets go of its link: gracefully when drained, at once when removed. */
  #leave(e: Entry): void {
    e.gen++;
    const c = e.conn;
    e.conn = null;
    if (c === null) return;
    let leaving: Promise<void>;
    if (e.slots.every((t) => t === null)) {
      leaving = c.close(5_000).then(() => e.config.transport.dispose?.());
    } else {
      c.destroy(e.state.kind === "gone" ? e.state.reason : "gone");
      leaving = e.config.transport.dispose?.() ?? Promise.resolve();
    }
    this.#leaving.add(leaving);
    void leaving.finally(() => this.#leaving.delete(leaving));
  }

  async #bringUp(e: Entry): Promise<void> {
    const gen = ++e.gen;
    const stale = (): boolean => gen !== e.gen || e.state.kind !== "connecting" || this.#closed;
    const ch = await e.config.transport.open().catch((x: unknown) => ({
      ok: false as const,
      error: {
        reason: "unreachable" as const,
        message: x instanceof Error ? x.message : String(x),
      },
    }));
    if (stale()) {
      if (ch.ok) ch.value.destroy();
      return;
    }
    if (!ch.ok) {
      this.#failed(e, `cannot connect: ${ch.error.message}`);
      return;
    }
    const c = await AgentConnection.open(ch.value, this.#opts.connection);
    if (stale()) {
      if (c.ok) c.value.destroy("host left while connecting");
      return;
    }
    if (!c.ok) {
      this.#failed(e, `agent did not start: ${c.error.message}`);
      return;
    }
    const conn = c.value;
    e.conn = conn;
    e.lastPing = performance.now();
    conn.onClose((why) => {
      if (gen !== e.gen) return;
      e.conn = null;
      this.#failed(e, why.reason);
    });
    this.#note(
      e,
      `agent ${conn.info.agentVersion} up on ${conn.info.uname} (${e.config.transport.description})`,
    );
    this.#apply(e, { type: "connected" });
    void this.#sync(e, gen);
  }

  #startSync(e: Entry): void {
    this.#apply(e, { type: "resync" });
    void this.#sync(e, e.gen);
  }

  async #sync(e: Entry, gen: number): Promise<void> {
    const conn = e.conn;
    if (conn === null) return;
    const began = performance.now();
    const prepare = this.#opts.prepare;
    if (prepare !== undefined) {
      const r = await prepare(conn, e.config);
      if (gen !== e.gen || e.state.kind !== "syncing") return;
      if (!r.ok) {
        conn.destroy(`sync failed: ${r.error}`);
        return;
      }
      if (r.value !== "") this.#note(e, r.value);
    }
    e.needsSync = false;
    e.syncSeconds = (performance.now() - began) / 1000;
    this.#apply(e, { type: "synced" });
  }

  /** The link failed or never came up: lost, retried later, or quarantined. */
  #failed(e: Entry, reason: string): void {
    if (e.state.kind === "gone") return;
    e.gen++;
    e.conn = null;
    e.needsSync = true;
    e.failures++;
    const quarantine =
      e.failures >= this.#opts.maxFailures
        ? `failed ${e.failures} times in a row, last: ${reason}`
        : null;
    this.#apply(e, { type: "linkLost", reason, quarantine });
    if (e.state.kind === "lost" && quarantine === null && !this.#closed) {
      e.retryTimer = setTimeout(() => {
        e.retryTimer = null;
        if (e.state.kind !== "lost" || this.#closed) return;
        this.#apply(e, { type: "retry" });
        void this.#bringUp(e);
      }, this.#opts.retryDelayMs);
    }
  }

  #startHeartbeats(): void {
    if (this.#timer !== null || this.#closed) return;
    const every = Math.max(
      10,
      Math.min(this.#opts.heartbeatIntervalMs, this.#opts.heartbeatTimeoutMs / 4),
    );
    this.#timer = setInterval(() => {
      this.#beat();
    }, every);
  }

  #beat(): void {
    const now = performance.now();
    for (const e of this.#hosts.values()) {
      const c = e.conn;
      if (c === null || c.closed !== null) continue;
      const silent = now - c.lastHeard;
      if (silent > this.#opts.heartbeatTimeoutMs) {
        c.destroy(`no sign of life for ${Math.round(silent / 1000)} s (heartbeat timeout)`);
      } else if (now - e.lastPing >= this.#opts.heartbeatIntervalMs) {
        e.lastPing = now;
        void c.ping();
      }
    }
  }
}

/** Reads the state afresh (the compiler would keep a narrowing from before a transition). */
function stateOf(e: Entry): HostState {
  return e.state;
}

function syncPending(e: Entry): boolean {
  return e.needsSync;
}

function unknown(name: HostName): PoolError {
  return { reason: "unknown", message: `no host named ${name} in the pool` };
}
