/**
 * One live agent over one channel: ships the script, waits for hello, then
 * multiplexes tasks, file transfers and pings. Every expected failure (link
 * lost, payload corrupt, request refused) comes back as a value.
 */
import { performance } from "node:perf_hooks";
import { scriptTransmission } from "../agent/agent.js";
import { AgentStreamParser, type FrameHandler, type PayloadCheck } from "../protocol/framing.js";
import {
  EXIT,
  PROTOCOL_VERSION,
  encodeGet,
  encodeKill,
  encodePing,
  encodeRun,
  stepsArgv,
  type AgentHeader,
  type RunMode,
  type Signal,
} from "../protocol/messages.js";
import { err, ok, type Result } from "../protocol/result.js";
import {
  parseHello,
  type AgentInfo,
  type LinkFailure,
  type RequestFailure,
  type RunningTask,
  type RunSpec,
  type StepOutput,
  type StepsSpec,
  type TaskResult,
} from "./agent-types.js";
import { LinkRate, sendPut, type PendingPut, type PutSource, type PutWire } from "./put.js";

export type {
  AgentInfo,
  LinkFailure,
  RequestFailure,
  RunningTask,
  RunSpec,
  StepOutput,
  StepsSpec,
  TaskResult,
} from "./agent-types.js";
import type { Channel, LinkEnd } from "./transport.js";

export interface ConnectionOptions {
  /** How long to wait for the agent's hello after sending the script. */
  readonly helloTimeoutMs?: number;
  /** Bytes per acknowledged put chunk. */
  readonly chunkSize?: number;
  /** Monotonic clock in ms; default performance.now. */
  readonly now?: () => number;
}

export interface ConnectFailure {
  readonly reason: "lost" | "timeout" | "protocol";
  readonly message: string;
}

interface Sink {
  data(chunk: Buffer, index: number): void;
  payloadEnd(check: PayloadCheck): void;
  end(): void;
}

interface PendingTask {
  readonly t0: number;
  readonly settle: (r: Result<TaskResult, RequestFailure>) => void;
}

export interface GetSink {
  data(chunk: Buffer): void;
  /** intact false: size or CRC did not match. */
  end(check: PayloadCheck): void;
  fail(f: RequestFailure): void;
}

/** Told of each step of a task of steps as it ends (a corrupt log fails as a value). */
export type StepListener = (step: number, r: Result<StepOutput, RequestFailure>) => void;

const DEFAULT_CHUNK = 1024 * 1024;

export class AgentConnection {
  /** What this connection's puts measured of the link (the scheduler's link speed for the host). */
  readonly link = new LinkRate();
  readonly #ch: Channel;
  readonly #now: () => number;
  readonly #chunkSize: number;
  readonly #parser: AgentStreamParser;
  #info: AgentInfo | null = null;
  #closed: LinkEnd | null = null;
  #lastHeard: number;
  #nextId = 1;
  #sink: Sink | null = null;
  readonly #tasks = new Map<number, PendingTask>();
  readonly #steps = new Map<number, StepListener>();
  readonly #puts = new Map<number, PendingPut>();
  readonly #gets = new Map<number, GetSink>();
  readonly #pings = new Map<number, (r: Result<number, LinkFailure>) => void>();
  readonly #closeListeners = new Set<(why: LinkEnd) => void>();
  readonly #pids = new Map<number, number>();
  readonly #killOnStart = new Map<number, Signal>();
  #helloWaiter: ((r: Result<AgentInfo, ConnectFailure>) => void) | null = null;
  // Only one put chunk may be on the wire: the agent's dd reads exactly its
  // bytes only because nothing follows until the ack. Lines wait meanwhile.
  #chunkInFlight = false;
  #chunkTurn: Promise<void> = Promise.resolve();
  #held: string[] = [];
  bytesOut = 0;

  private constructor(ch: Channel, opts: ConnectionOptions) {
    this.#ch = ch;
    this.#now = opts.now ?? (() => performance.now());
    this.#chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
    this.#lastHeard = this.#now();
    this.#parser = new AgentStreamParser(this.#frameHandler());
    ch.output.on("data", (d: Buffer) => {
      this.#lastHeard = this.#now();
      this.#parser.push(d);
    });
    ch.output.on("error", () => undefined);
    void ch.ended.then((why) => {
      this.#shut(why);
    });
  }

  /** Ships the agent script over a fresh channel and waits for its hello. */
  static async open(
    ch: Channel,
    opts: ConnectionOptions = {},
  ): Promise<Result<AgentConnection, ConnectFailure>> {
    const c = new AgentConnection(ch, opts);
    const hello = new Promise<Result<AgentInfo, ConnectFailure>>((res) => {
      c.#helloWaiter = res;
    });
    c.#write(scriptTransmission());
    const ms = opts.helloTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Result<AgentInfo, ConnectFailure>>((res) => {
      timer = setTimeout(() => {
        res(err({ reason: "timeout", message: `no hello from the agent within ${ms} ms` }));
      }, ms);
    });
    const r = await Promise.race([hello, timeout]);
    clearTimeout(timer);
    c.#helloWaiter = null;
    if (!r.ok) {
      const diag = ch.diagnostics().trim();
      c.destroy(r.error.message);
      return err({
        ...r.error,
        message: diag === "" ? r.error.message : `${r.error.message}: ${diag}`,
      });
    }
    c.#info = r.value;
    return ok(c);
  }

  get info(): AgentInfo {
    if (this.#info === null) throw new Error("bug: connection used before hello");
    return this.#info;
  }

  /** Monotonic ms of the last byte received: any traffic proves the link alive. */
  get lastHeard(): number {
    return this.#lastHeard;
  }

  get closed(): LinkEnd | null {
    return this.#closed;
  }

  get bytesIn(): number {
    return this.#parser.bytesIn;
  }

  /** Calls `listener` once when the link goes down (at once if it already is). */
  onClose(listener: (why: LinkEnd) => void): () => void {
    if (this.#closed !== null) {
      listener(this.#closed);
      return () => undefined;
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Starts a task on the host. */
  start(spec: RunSpec): RunningTask {
    return this.#start(spec, spec.output ?? "merge");
  }

  /**
   * Starts a task of several steps, run in turn on the host until one fails
   * (the agent's `steps` capability: see canRunSteps). `onStep` hears of each
   * as it ends, with its own status and output; the task's result, after the
   * last step run, has the last status and no output.
   */
  startSteps(spec: StepsSpec, onStep: StepListener): RunningTask {
    const argv = stepsArgv(spec.steps.map((s) => ({ argv: s.argv, cwd: s.cwd ?? "." })));
    return this.#start(
      { argv, ...(spec.env === undefined ? {} : { env: spec.env }) },
      "steps",
      onStep,
    );
  }

  /** True when the agent runs tasks of several steps (startSteps). */
  get canRunSteps(): boolean {
    return this.info.caps.includes("steps");
  }

  #start(spec: RunSpec, mode: RunMode, onStep?: StepListener): RunningTask {
    const id = this.#nextId++;
    const t0 = this.#now();
    const result = new Promise<Result<TaskResult, RequestFailure>>((settle) => {
      const msg = encodeRun({
        id,
        argv: spec.argv,
        cwd: spec.cwd ?? ".",
        env: Object.entries(spec.env ?? {}),
        output: mode,
      });
      if (!msg.ok) {
        settle(err({ reason: "local", message: msg.error.message }));
        return;
      }
      if (this.#closed !== null) {
        settle(err({ reason: "lost", message: this.#closed.reason }));
        return;
      }
      this.#tasks.set(id, { t0, settle });
      if (onStep !== undefined) this.#steps.set(id, onStep);
      this.#write(msg.value);
    });
    return {
      id,
      result,
      kill: (signal: Signal = "TERM") => {
        if (!this.#tasks.has(id)) return;
        // Before "started" the agent does not know the pid yet: kill then.
        if (this.#pids.has(id)) this.#write(encodeKill(id, signal));
        else this.#killOnStart.set(id, signal);
      },
    };
  }

  /** The pid of a running task's process on the host, once it started. */
  hostPid(taskId: number): number | undefined {
    return this.#pids.get(taskId);
  }

  /** Runs a task to completion. */
  run(spec: RunSpec): Promise<Result<TaskResult, RequestFailure>> {
    return this.start(spec).result;
  }

  /** Round-trip time of a ping, in ms. */
  ping(): Promise<Result<number, LinkFailure>> {
    const seq = this.#nextId++;
    const t0 = this.#now();
    return new Promise((settle) => {
      if (this.#closed !== null) {
        settle(err({ reason: "lost", message: this.#closed.reason }));
        return;
      }
      this.#pings.set(seq, (r) => {
        settle(r.ok ? ok(this.#now() - t0) : r);
      });
      this.#write(encodePing(seq));
    });
  }

  /** Writes `source` to `path` on the host (relative to its root), checked by cksum. */
  async put(
    path: string,
    source: PutSource,
    opts: { mode?: number } = {},
  ): Promise<Result<{ size: number; crc: number }, RequestFailure>> {
    const id = this.#nextId++;
    const t0 = this.#now();
    const r = await sendPut(this.#putWire(), id, path, source, opts.mode ?? 0o644, this.#chunkSize);
    if (r.ok) this.link.record(r.value.size, (this.#now() - t0) / 1000);
    return r;
  }

  /** Streams the file at `path` on the host into `sink`. */
  get(path: string, sink: GetSink): void {
    const id = this.#nextId++;
    const msg = encodeGet(id, path);
    if (!msg.ok) {
      sink.fail({ reason: "local", message: msg.error.message });
      return;
    }
    if (this.#closed !== null) {
      sink.fail({ reason: "lost", message: this.#closed.reason });
      return;
    }
    this.#gets.set(id, sink);
    this.#write(msg.value);
  }

  /** Asks the agent to stop (its tasks are killed) and waits for the link to end. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#closed === null) this.#write(EXIT);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#ch.ended,
      new Promise((res) => {
        timer = setTimeout(res, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.destroy("closed by the master");
  }

  /** Cuts the link at once; everything pending fails as lost. */
  destroy(reason: string): void {
    this.#ch.destroy();
    this.#shut({ reason });
  }

  #write(data: string): void {
    if (this.#closed !== null) return;
    if (this.#chunkInFlight) {
      this.#held.push(data);
      return;
    }
    this.bytesOut += Buffer.byteLength(data);
    this.#ch.input.write(data);
  }

  #putWire(): PutWire {
    return {
      closed: () => this.#closed,
      line: (s) => {
        this.#write(s);
      },
      register: (id, p) => {
        this.#puts.set(id, p);
      },
      forget: (id) => this.#puts.delete(id),
      chunk: async (id, header, bytes) => {
        const prev = this.#chunkTurn;
        let release = (): void => undefined;
        this.#chunkTurn = new Promise((r) => {
          release = r;
        });
        await prev;
        try {
          const p = this.#puts.get(id);
          if (this.#closed !== null || p === undefined) return false;
          const acked = new Promise<boolean>((res) => {
            p.ack = res;
          });
          this.#write(header);
          this.#chunkInFlight = true;
          this.bytesOut += bytes.length;
          // The agent is silent until it acks; a slow link taking the chunk
          // in is progress, not silence, so the heartbeat clock restarts.
          this.#ch.input.write(bytes, () => {
            this.#lastHeard = this.#now();
          });
          return await acked;
        } finally {
          this.#chunkInFlight = false;
          const held = this.#held;
          this.#held = [];
          for (const h of held) this.#write(h);
          release();
        }
      },
    };
  }

  #shut(why: LinkEnd): void {
    if (this.#closed !== null) return;
    this.#closed = why;
    const lost = { reason: "lost", message: why.reason } as const;
    this.#helloWaiter?.(err(lost));
    for (const t of this.#tasks.values()) t.settle(err(lost));
    this.#tasks.clear();
    this.#steps.clear();
    for (const p of this.#puts.values()) {
      p.ack?.(false);
      p.settle(err(lost));
    }
    this.#puts.clear();
    for (const g of this.#gets.values()) g.fail(lost);
    this.#gets.clear();
    for (const p of this.#pings.values()) p(err(lost));
    this.#pings.clear();
    for (const l of this.#closeListeners) l(why);
    this.#closeListeners.clear();
  }

  #frameHandler(): FrameHandler {
    return {
      header: (h) => {
        this.#sink = this.#onHeader(h);
      },
      data: (chunk, index) => {
        this.#sink?.data(chunk, index);
      },
      payloadEnd: (check) => {
        this.#sink?.payloadEnd(check);
      },
      messageEnd: () => {
        const s = this.#sink;
        this.#sink = null;
        s?.end();
      },
      violation: (message) => {
        this.destroy(`protocol violation: ${message}`);
      },
    };
  }

  #onHeader(h: AgentHeader): Sink | null {
    switch (h.verb) {
      case "hello":
        return this.#helloSink(h.proto);
      case "pong": {
        const p = this.#pings.get(h.seq);
        this.#pings.delete(h.seq);
        p?.(ok(0));
        return null;
      }
      case "started": {
        this.#pids.set(h.id, h.pid);
        const sig = this.#killOnStart.get(h.id);
        this.#killOnStart.delete(h.id);
        if (sig !== undefined) this.#write(encodeKill(h.id, sig));
        return null;
      }
      case "ack":
        this.#puts.get(h.id)?.ack?.(true);
        return null;
      case "ok": {
        const p = this.#puts.get(h.id);
        this.#puts.delete(h.id);
        p?.settle(ok(null));
        return null;
      }
      case "err":
        this.#onErr(h.id, h.reason);
        return null;
      case "proto":
        this.destroy(`the agent reports a protocol error: ${h.reason}`);
        return null;
      case "step":
        return this.#stepSink(h.id, h.step, h.status);
      case "done":
        return this.#doneSink(h.id, h.status, h.seconds);
      case "file":
        return this.#fileSink(h.id);
    }
  }

  #onErr(id: number, reason: string): void {
    const rejected = { reason: "rejected", message: reason } as const;
    const t = this.#tasks.get(id);
    if (t !== undefined) {
      this.#tasks.delete(id);
      this.#steps.delete(id);
      t.settle(err(rejected));
    }
    const p = this.#puts.get(id);
    if (p !== undefined) {
      this.#puts.delete(id);
      p.settle(err(rejected));
    }
    const g = this.#gets.get(id);
    if (g !== undefined) {
      this.#gets.delete(id);
      g.fail(rejected);
    }
  }

  #helloSink(proto: number): Sink {
    const parts: Buffer[] = [];
    let intact = true;
    return {
      data: (c) => parts.push(c),
      payloadEnd: (check) => {
        intact &&= check.intact;
      },
      end: () => {
        const w = this.#helloWaiter;
        if (w === null) return;
        if (!intact) {
          w(err({ reason: "protocol", message: "the agent's hello arrived corrupt" }));
        } else if (proto !== PROTOCOL_VERSION) {
          w(
            err({
              reason: "protocol",
              message: `agent speaks protocol ${proto}, master ${PROTOCOL_VERSION}`,
            }),
          );
        } else {
          w(ok(parseHello(Buffer.concat(parts).toString())));
        }
      },
    };
  }

  #doneSink(id: number, status: number, seconds: number | null): Sink {
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let intact = true;
    return {
      data: (c, i) => (i === 0 ? out : errOut).push(c),
      payloadEnd: (check) => {
        intact &&= check.intact;
      },
      end: () => {
        const t = this.#tasks.get(id);
        this.#tasks.delete(id);
        this.#steps.delete(id);
        this.#pids.delete(id);
        this.#killOnStart.delete(id);
        if (t === undefined) return;
        if (!intact) {
          t.settle(
            err({ reason: "corrupt", message: `the log of task ${id} failed its checksum` }),
          );
          return;
        }
        t.settle(
          ok({
            status,
            output: Buffer.concat(out),
            stderr: Buffer.concat(errOut),
            hostSeconds: seconds,
            wallMs: this.#now() - t.t0,
          }),
        );
      },
    };
  }

  #stepSink(id: number, step: number, status: number): Sink {
    const out: Buffer[] = [];
    let intact = true;
    return {
      data: (c) => out.push(c),
      payloadEnd: (check) => {
        intact &&= check.intact;
      },
      end: () => {
        const listener = this.#steps.get(id);
        if (listener === undefined) return;
        listener(
          step,
          intact
            ? ok({ status, output: Buffer.concat(out) })
            : err({
                reason: "corrupt",
                message: `the log of step ${step} of task ${id} failed its checksum`,
              }),
        );
      },
    };
  }

  #fileSink(id: number): Sink | null {
    const g = this.#gets.get(id);
    this.#gets.delete(id);
    if (g === undefined) return null;
    return {
      data: (c) => {
        g.data(c);
      },
      payloadEnd: (check) => {
        g.end(check);
      },
      end: () => undefined,
    };
  }
}
