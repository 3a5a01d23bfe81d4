/**
 * Fake hosts over real OS streams, for the scale benchmark: each host is the
 * in-memory FakeTransport (the real protocol, tasks run by a handler), but
 * the master reaches it through a unix-domain socket, so every byte crosses
 * the kernel and the master's event loop waits on real file descriptors
 * (epoll), as it does with ssh or local agents.
 *
 * The handler stamps each task with the host's monotonic clock
 * (process.hrtime, CLOCK_MONOTONIC, the same in every process of the machine):
 * the task's output is "RECV DONE", nanoseconds at which the run request
 * reached the host and at which the host answered `done`.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { FakeTransport } from "../../src/hosts/fake.js";
import { ok, type Result } from "../../src/protocol/result.js";
import type { Channel, LinkEnd, Transport, TransportError } from "../../src/hosts/transport.js";

/** The master's side: one unix-socket connection per open(). */
export class SocketTransport implements Transport {
  readonly kind = "fake";
  readonly description: string;
  readonly #path: string;

  constructor(path: string, label: string) {
    this.#path = path;
    this.description = `fake ${label} over ${path}`;
  }

  open(): Promise<Result<Channel, TransportError>> {
    return new Promise((resolve) => {
      const sock: Socket = connect(this.#path);
      const ended = new Promise<LinkEnd>((res) => {
        sock.on("close", () => {
          res({ reason: "socket closed" });
        });
      });
      sock.on("error", () => undefined);
      sock.once("connect", () => {
        resolve(
          ok({
            input: sock,
            output: sock,
            ended,
            diagnostics: () => "",
            destroy: () => {
              sock.destroy();
            },
          }),
        );
      });
      sock.once("error", (e) => {
        resolve({ ok: false, error: { reason: "unreachable", message: e.message } });
      });
    });
  }
}

/** Parses a task output "RECV DONE" (ns) written by the hosts' handler. */
export function taskStamps(output: Buffer): { recvNs: bigint; doneNs: bigint } | null {
  const m = /^(\d+) (\d+)/.exec(output.toString());
  return m === null ? null : { recvNs: BigInt(m[1]!), doneNs: BigInt(m[2]!) };
}

/**
 * Replies wait for the end of the event-loop turn: the one process plays
 * hundreds of hosts, and on separate machines one host's reply would not
 * hold up the requests read for the others in the same turn. Order per host
 * is kept.
 */
const waiting = new Map<Socket, Buffer[]>();
let flushing = false;
function later(sock: Socket, d: Buffer): void {
  const q = waiting.get(sock);
  if (q === undefined) waiting.set(sock, [d]);
  else q.push(d);
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    for (const [s, parts] of waiting)
      if (!s.destroyed) s.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    waiting.clear();
  });
}

/**
 * The hosts' side: every connection to `path` is a fresh fake host whose
 * tasks take `taskMs` on average, spread uniformly over ±50% so that hosts
 * do not finish in lockstep (0: answer at once).
 */
export function serveFakeHosts(path: string, taskMs: number): Promise<Server> {
  let seed = 1;
  // A fixed-seed LCG: the same durations on every run.
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const server = createServer((sock) => {
    const t = new FakeTransport({
      handler: async () => {
        const recv = process.hrtime.bigint();
        if (taskMs > 0) {
          const wait = taskMs * (0.5 + random());
          await new Promise((r) => setTimeout(r, wait));
        }
        return { status: 0, output: `${recv} ${process.hrtime.bigint()}\n` };
      },
    });
    sock.on("error", () => undefined);
    void t.open().then((ch) => {
      if (!ch.ok) {
        sock.destroy();
        return;
      }
      const c = ch.value;
      sock.on("data", (d: Buffer) => {
        c.input.write(d);
      });
      c.output.on("data", (d: Buffer) => {
        later(sock, d);
      });
      sock.on("close", () => {
        c.destroy();
      });
      void c.ended.then(() => sock.end());
    });
  });
  return new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(path, () => {
      res(server);
    });
  });
}
