/**
 * The master's unix socket in the work directory (mode 0600, the work
 * directory itself 0700). The first line a client sends picks the service:
 * `attach NAME` (a host dialling in, see attach.ts) or `control` (the
 * `herd hosts` commands, see control.ts). Anything else is refused.
 */
import { chmodSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";

export type ServiceHandler = (socket: Socket, args: readonly string[], rest: Buffer) => void;

const MAX_FIRST_LINE = 512;

export class MasterSocket {
  readonly path: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /** Listens on `path` (replacing a stale socket file) and dispatches by first line. */
  static listen(
    path: string,
    services: Readonly<Record<string, ServiceHandler>>,
  ): Promise<MasterSocket> {
    rmSync(path, { force: true });
    const server = createServer();
    const ms = new MasterSocket(path, server);
    server.on("connection", (socket) => {
      ms.#sockets.add(socket);
      socket.on("close", () => ms.#sockets.delete(socket));
      socket.on("error", () => undefined);
      readFirstLine(socket, (line, rest) => {
        if (line === null) {
          socket.end("refused bad request\n");
          return;
        }
        const [service, ...args] = line.split(" ");
        const h = services[service ?? ""];
        if (h === undefined) socket.end(`refused unknown service ${JSON.stringify(service)}\n`);
        else h(socket, args, rest);
      });
    });
    return new Promise((res, rej) => {
      server.once("error", rej);
      // Bound (synchronously, inside listen) with no access for group and
      // others, so there is no moment when anyone else could connect.
      const umask = process.umask(0o077);
      try {
        server.listen(path, () => {
          chmodSync(path, 0o600);
          server.off("error", rej);
          res(ms);
        });
      } finally {
        process.umask(umask);
      }
    });
  }

  /** Stops listening and cuts every connection. */
  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((res) => {
      this.#server.close(() => {
        rmSync(this.path, { force: true });
        res();
      });
    });
  }
}

/**
 * Reads one line (without its newline) and hands over what came after it.
 * `then` is called once: with the line, or with null when the peer sends
 * too long a line, ends, or the connection breaks (a reset, as from a
 * process killed with data unread, closes it without an end).
 */
export function readFirstLine(
  socket: Socket,
  then: (line: string | null, rest: Buffer) => void,
): void {
  let buf = Buffer.alloc(0);
  const finish = (line: string | null, rest: Buffer): void => {
    socket.off("data", onData);
    socket.off("end", onGone);
    socket.off("close", onGone);
    then(line, rest);
  };
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    const nl = buf.indexOf(10);
    if (nl < 0 && buf.length <= MAX_FIRST_LINE) return;
    socket.pause();
    if (nl < 0) finish(null, Buffer.alloc(0));
    else finish(buf.subarray(0, nl).toString(), buf.subarray(nl + 1));
  };
  const onGone = (): void => {
    finish(null, Buffer.alloc(0));
  };
  socket.on("data", onData);
  socket.on("end", onGone);
  socket.on("close", onGone);
  if (socket.destroyed) onGone();
}

/** Connects to a master socket and sends the service line. */
export function connectMaster(path: string, line: string): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = createConnection(path);
    s.once("error", rej);
    s.once("connect", () => {
      s.off("error", rej);
      s.write(`${line}\n`);
      res(s);
    });
  });
}
