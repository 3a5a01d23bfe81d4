/**
 * Fake hosts over real OS streams, for the scale benchmark: each host is the
 * in-memory FakeTransport (the real protocol, tasks run by a handler), but
 * the master reaches it through a unix-domain socket, so every byte crosses
 * the kernel and the master's event loop waits on real file descriptors
 * (epoll), as it does with ssh or local agents.
 *
 * The handler stamps each task with the host's monotonic clock
 * (process.hrtime, CLOCK_MONOTONIC, the same in every process of the machine):
 * the task's output is "RECV HANDLED DONE", nanoseconds at which the run
 * request was read off the host's socket, handed to the handler by the fake
 * host's protocol code, and answered with `done`.
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

/**
 * Parses a task output "RECV HANDLED DONE" (ns) written by the hosts'
 * handler: when the run request was read off the host's socket, when the
 * fake host's protocol code handed it to the handler, when it answered.
 */
export function taskStamps(
  output: Buffer,
): { recvNs: bigint; handledNs: bigint; doneNs: bigint } | null {
  const m = /^(\d+) (\d+) (\d+)/.exec(output.toString());
  return m === null
    ? null
    : { recvNs: BigInt(m[1]!), handledNs: BigInt(m[2]!), doneNs: BigInt(m[3]!) };
}

/**
 * The one process plays hundreds of hosts; on separate machines one host's
 * work would not hold up another's. So within an event-loop turn the
 * process first reads (and stamps) what every socket brought, and only
 * then parses it and answers, once per host and turn, order per host kept.
 */
const inbound = new Map<Socket, { chunks: Buffer[]; feed: (d: Buffer) => void }>();
const outbound = new Map<Socket, Buffer[]>();
let turnQueued = false;
function endOfTurn(): void {
  if (turnQueued) return;
  turnQueued = true;
  setImmediate(() => {
    turnQueued = false;
    for (const { chunks, feed } of inbound.values())
      feed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    inbound.clear();
    for (const [s, parts] of outbound)
      if (!s.destroyed) s.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    outbound.clear();
  });
}
function queue<T>(m: Map<Socket, T>, sock: Socket, fresh: () => T, add: (q: T) => void): void {
  let q = m.get(sock);
  if (q === undefined) m.set(sock, (q = fresh()));
  add(q);
  endOfTurn();
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
    // When the latest bytes from the master were read off this socket.
    let arrived = 0n;
    const t = new FakeTransport({
      handler: async () => {
        const handled = process.hrtime.bigint();
        const recv = arrived;
        if (taskMs > 0) {
          const wait = taskMs * (0.5 + random());
          await new Promise((r) => setTimeout(r, wait));
        }
        return { status: 0, output: `${recv} ${handled} ${process.hrtime.bigint()}\n` };
      },
    });
    sock.on("error", () => undefined);
    void t.open().then((ch) => {
      if (!ch.ok) {
        sock.destroy();
        return;
      }
      const c = ch.value;
      const feed = (d: Buffer): void => {
        c.input.write(d);
      };
      sock.on("data", (d: Buffer) => {
        arrived = process.hrtime.bigint();
        queue(
          inbound,
          sock,
          () => ({ chunks: [], feed }),
          (q) => q.chunks.push(d),
        );
      });
      c.output.on("data", (d: Buffer) => {
        queue(
          outbound,
          sock,
          (): Buffer[] => [],
          (q) => q.push(d),
        );
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
