/**
 * A TCP relay that delays: it listens on one address, forwards each
 * connection to another, and holds every chunk it reads DELAY_MS
 * milliseconds before writing it on, in each direction and in order (an
 * end of stream is held as long). The slow-host rig runs one inside a
 * network namespace in front of an sshd that listens on the namespace's
 * loopback only (tests/integration/netns-support.ts), so every byte between
 * the master and the host crosses it: the link has a latency as ssh sees
 * it, though no single packet is delayed (that would need netem).
 *
 * A direction whose held and unwritten bytes pass 4 MiB pauses its source
 * until they fall under 2 MiB. A connection that fails on either side is
 * destroyed on both. The bytes relayed so far (both directions) are written
 * to COUNT_FILE a few times a second and on exit. Once it listens it prints
 * "listening PORT" (LISTEN_PORT may be 0). It exits on SIGTERM, SIGINT or
 * when its stdin closes (the process that started it is gone).
 *
 * Usage: node delay-relay.js LISTEN_ADDRESS LISTEN_PORT TARGET_ADDRESS TARGET_PORT DELAY_MS COUNT_FILE
 */
import { renameSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";

const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = HIGH_WATER / 2;

interface Held {
  readonly due: number;
  /** null: the source ended. */
  readonly chunk: Buffer | null;
}

/** Moves what `from` reads to `to`, each chunk `delayMs` later; returns a function that drops what is held. */
function forward(
  from: Socket,
  to: Socket,
  delayMs: number,
  relayed: (n: number) => void,
): () => void {
  const held: Held[] = [];
  let heldBytes = 0;
  let paused = false;
  let timer: NodeJS.Timeout | undefined;
  const backlog = (): number => heldBytes + to.writableLength;
  const relieve = (): void => {
    if (paused && backlog() < LOW_WATER && !from.destroyed) {
      paused = false;
      from.resume();
    }
  };
  const flush = (): void => {
    timer = undefined;
    // Timers may fire a fraction of a millisecond before performance.now() says.
    const now = performance.now() + 1;
    while (held.length > 0 && held[0]!.due <= now) {
      const { chunk } = held.shift()!;
      if (to.destroyed) continue;
      if (chunk === null) {
        to.end();
      } else {
        heldBytes -= chunk.length;
        to.write(chunk);
        relayed(chunk.length);
      }
    }
    if (held.length > 0)
      timer = setTimeout(flush, Math.max(0, Math.ceil(held[0]!.due - performance.now())));
    relieve();
  };
  const hold = (chunk: Buffer | null): void => {
    held.push({ due: performance.now() + delayMs, chunk });
    if (chunk !== null) heldBytes += chunk.length;
    timer ??= setTimeout(flush, delayMs);
    if (!paused && backlog() > HIGH_WATER) {
      paused = true;
      from.pause();
    }
  };
  from.on("data", (chunk: Buffer) => {
    hold(chunk);
  });
  from.on("end", () => {
    hold(null);
  });
  to.on("drain", relieve);
  return () => {
    clearTimeout(timer);
    timer = undefined;
    held.length = 0;
    heldBytes = 0;
  };
}

function main(argv: readonly string[]): void {
  if (argv.length !== 6) {
    process.stderr.write(
      "usage: delay-relay LISTEN_ADDRESS LISTEN_PORT TARGET_ADDRESS TARGET_PORT DELAY_MS COUNT_FILE\n",
    );
    process.exit(2);
  }
  const [listenAddress, listenPort, targetAddress, targetPort, delay, countFile] = argv as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const delayMs = Number(delay);
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    process.stderr.write(`delay-relay: bad delay ${delay}\n`);
    process.exit(2);
  }

  let total = 0;
  let written = -1;
  const report = (): void => {
    if (written === total) return;
    const tmp = `${countFile}.tmp`;
    writeFileSync(tmp, `${String(total)}\n`);
    renameSync(tmp, countFile);
    written = total;
  };
  report();
  const reporter = setInterval(report, 200);

  const server = createServer({ allowHalfOpen: true }, (client: Socket) => {
    const target = connect({ host: targetAddress, port: Number(targetPort), allowHalfOpen: true });
    for (const s of [client, target]) s.setNoDelay(true);
    const count = (n: number): void => {
      total += n;
    };
    const dropIn = forward(client, target, delayMs, count);
    const dropOut = forward(target, client, delayMs, count);
    const kill = (): void => {
      dropIn();
      dropOut();
      client.destroy();
      target.destroy();
    };
    client.on("error", kill);
    target.on("error", kill);
    // A side closed with its ends exchanged leaves the other to finish what is held.
    client.on("close", (hadError) => {
      if (hadError) kill();
    });
    target.on("close", (hadError) => {
      if (hadError) kill();
    });
  });
  server.on("error", (e) => {
    process.stderr.write(`delay-relay: ${e.message}\n`);
    process.exit(1);
  });
  const quit = (): void => {
    clearInterval(reporter);
    report();
    process.exit(0);
  };
  process.on("SIGTERM", quit);
  process.on("SIGINT", quit);
  process.stdin.on("end", quit);
  process.stdin.on("error", quit);
  process.stdin.resume();
  server.listen({ host: listenAddress, port: Number(listenPort) }, () => {
    const at = server.address();
    process.stdout.write(
      `listening ${typeof at === "object" && at !== null ? String(at.port) : "?"}\n`,
    );
  });
}

main(process.argv.slice(2));
