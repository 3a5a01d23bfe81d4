/**
 * An in-memory host for tests: speaks the real protocol over in-memory
 * streams, runs tasks through a handler instead of processes, keeps files
 * in a map, and can freeze (stop answering) or cut its link on demand.
 */
import { posix } from "node:path";
import { PassThrough } from "node:stream";
import { cksum } from "../protocol/cksum.js";
import { PROTOCOL_VERSION, SCRIPT_END_MARKER } from "../protocol/messages.js";
import { ok, type Result } from "../protocol/result.js";
import type { Channel, LinkEnd, Transport, TransportError } from "./transport.js";

export interface FakeRun {
  readonly argv: readonly string[];
  /** Absolute, under the fake root. */
  readonly cwd: string;
  readonly env: ReadonlyMap<string, string>;
  /** The fake host's files (absolute paths), readable and writable by the handler. */
  readonly files: Map<string, Buffer>;
}

export interface FakeOutcome {
  readonly status: number;
  readonly output?: string | Buffer;
  readonly stderr?: string | Buffer;
}

export type FakeHandler = (run: FakeRun, signal: AbortSignal) => Promise<FakeOutcome>;

export interface FakeTransportOptions {
  readonly root?: string;
  readonly handler?: FakeHandler;
  /** open() fails this many times before it succeeds (connection failures). */
  readonly failOpens?: number;
  /** The host's files (kept across links); a new empty map by default. */
  readonly files?: Map<string, Buffer>;
}

/** The fake's controls, for tests: what a dying or hanging host looks like. */
export class FakeTransport implements Transport {
  readonly kind = "fake";
  readonly description: string;
  readonly files: Map<string, Buffer>;
  readonly root: string;
  readonly #handler: FakeHandler;
  #failOpens: number;
  #live: FakeLink | null = null;
  opens = 0;

  constructor(opts: FakeTransportOptions = {}) {
    this.root = opts.root ?? "/fake";
    this.#handler = opts.handler ?? (() => Promise.resolve({ status: 0 }));
    this.#failOpens = opts.failOpens ?? 0;
    this.files = opts.files ?? new Map<string, Buffer>();
    this.description = `fake ${this.root}`;
  }

  open(): Promise<Result<Channel, TransportError>> {
    this.opens++;
    if (this.#failOpens > 0) {
      this.#failOpens--;
      return Promise.resolve({
        ok: false,
        error: { reason: "unreachable", message: "fake host unreachable" },
      });
    }
    this.#live?.cut("replaced");
    const link = new FakeLink(this.root, this.files, this.#handler);
    this.#live = link;
    return Promise.resolve(ok(link.channel));
  }

  /** Stops answering but keeps the link open: only a heartbeat timeout notices. */
  freeze(): void {
    this.#live?.freeze();
  }

  /** Ends the link as if the host died. */
  cut(): void {
    this.#live?.cut("fake host died");
  }
}

class FakeLink {
  readonly channel: Channel;
  readonly #in = new PassThrough();
  readonly #out = new PassThrough();
  readonly #root: string;
  readonly #files: Map<string, Buffer>;
  readonly #handler: FakeHandler;
  #buf = Buffer.alloc(0);
  #scriptDone = false;
  #frozen = false;
  #ended: (e: LinkEnd) => void = () => undefined;
  #isEnded = false;
  #need: { id: number; size: number } | null = null;
  readonly #puts = new Map<number, { path: string; parts: Buffer[] }>();
  readonly #tasks = new Map<number, AbortController>();
  #pending: string[] = [];

  constructor(root: string, files: Map<string, Buffer>, handler: FakeHandler) {
    this.#root = root;
    this.#files = files;
    this.#handler = handler;
    const ended = new Promise<LinkEnd>((res) => {
      this.#ended = res;
    });
    this.channel = {
      input: this.#in,
      output: this.#out,
      ended,
      diagnostics: () => "",
      destroy: () => {
        this.cut("destroyed");
      },
    };
    this.#in.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#pump();
    });
  }

  freeze(): void {
    this.#frozen = true;
  }

  cut(reason: string): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    for (const t of this.#tasks.values()) t.abort();
    this.#out.end();
    this.#ended({ reason });
  }

  #send(head: string, ...payloads: Buffer[]): void {
    if (this.#frozen || this.#isEnded) return;
    const specs = payloads.map((p) => {
      const c = cksum(p);
      return ` ${c.size} ${c.crc}`;
    });
    const line = head + specs.join("") + "\n";
    // One write per message, as the agent's own printf/cat pairs reach the pipe.
    this.#out.write(payloads.length === 0 ? line : Buffer.concat([Buffer.from(line), ...payloads]));
  }

  #abs(p: string): string {
    return posix.resolve(this.#root, p);
  }

  #line(): string | null {
    const nl = this.#buf.indexOf(10);
    if (nl < 0) return null;
    const line = this.#buf.subarray(0, nl).toString();
    this.#buf = this.#buf.subarray(nl + 1);
    return line;
  }

  #pump(): void {
    for (;;) {
      if (this.#need !== null) {
        if (this.#buf.length < this.#need.size) return;
        const bytes = this.#buf.subarray(0, this.#need.size);
        this.#buf = this.#buf.subarray(this.#need.size);
        this.#puts.get(this.#need.id)?.parts.push(Buffer.from(bytes));
        this.#send(`ack ${this.#need.id}`);
        this.#need = null;
        continue;
      }
      const line = this.#line();
      if (line === null) return;
      if (!this.#scriptDone) {
        if (line === SCRIPT_END_MARKER) {
          this.#scriptDone = true;
          const info = `agent=fake\nproto=${PROTOCOL_VERSION}\npid=1\nroot=${this.#root}\nuname=Fake 1.0 fake\ncaps=run,split,put,get,kill,ping,cksum\n`;
          this.#send(`hello ${PROTOCOL_VERSION}`, Buffer.from(info));
        }
        continue;
      }
      this.#pending.push(line);
      if (!this.#message()) return;
    }
  }

  /** Handles the pending message once all its lines are here; false if more are needed. */
  #message(): boolean {
    const w = this.#pending[0]!.split(" ");
    const want =
      w[0] === "run" ? 2 + Number(w[2]) + Number(w[3]) : w[0] === "put" || w[0] === "get" ? 2 : 1;
    while (this.#pending.length < want) {
      const l = this.#line();
      if (l === null) return false;
      this.#pending.push(l);
    }
    const lines = this.#pending;
    this.#pending = [];
    const id = Number(w[1]);
    switch (w[0]) {
      case "ping":
        this.#send(`pong ${w[1]}`);
        break;
      case "run":
        this.#run(id, w[4] === "split", lines);
        break;
      case "kill":
        this.#tasks.get(id)?.abort();
        break;
      case "put":
        this.#puts.set(id, { path: this.#abs(lines[1]!), parts: [] });
        break;
      case "chunk":
        this.#need = { id, size: Number(w[2]) };
        break;
      case "end": {
        const p = this.#puts.get(id);
        this.#puts.delete(id);
        if (p === undefined) break;
        const data = Buffer.concat(p.parts);
        const c = cksum(data);
        if (c.size !== Number(w[2]) || c.crc !== Number(w[3])) {
          this.#send(`err ${id} checksum-mismatch`);
        } else {
          this.#files.set(p.path, data);
          this.#send(`ok ${id}`);
        }
        break;
      }
      case "abort":
        this.#puts.delete(id);
        this.#send(`err ${id} aborted`);
        break;
      case "get": {
        const f = this.#files.get(this.#abs(lines[1]!));
        if (f === undefined) this.#send(`err ${id} no-such-file`);
        else this.#send(`file ${id}`, f);
        break;
      }
      case "exit":
        this.cut("agent exited");
        break;
      default:
        this.#send("proto unknown-message");
    }
    return true;
  }

  #run(id: number, split: boolean, lines: readonly string[]): void {
    const head = lines[0]!.split(" ");
    const nenv = Number(head[3]);
    const env = new Map<string, string>();
    for (const kv of lines.slice(2, 2 + nenv)) {
      const eq = kv.indexOf("=");
      env.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    const argv = lines.slice(2 + nenv);
    const ac = new AbortController();
    this.#tasks.set(id, ac);
    const cwd = this.#abs(lines[1]!);
    // The task is under way (the handler runs up to its first await) before "started" is told.
    const running = this.#handler({ argv, cwd, env, files: this.#files }, ac.signal);
    this.#send(`started ${id} ${1000 + id}`);
    void running.then(
      (o) => {
        this.#tasks.delete(id);
        const out = Buffer.from(o.output ?? "");
        const errOut = Buffer.from(o.stderr ?? "");
        const status = ac.signal.aborted ? 143 : o.status;
        if (split) this.#send(`done ${id} ${status} 0`, out, errOut);
        else this.#send(`done ${id} ${status} 0`, Buffer.concat([out, errOut]), Buffer.alloc(0));
      },
      (e: unknown) => {
        this.#tasks.delete(id);
        this.#send(
          `done ${id} 70 0`,
          Buffer.from(`fake handler threw: ${String(e)}\n`),
          Buffer.alloc(0),
        );
      },
    );
  }
}
