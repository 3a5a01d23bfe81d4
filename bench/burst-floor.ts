/**
 * The floor under a dispatch burst: how long one Node.js thread takes to
 * write one task message into each of N hosts' sockets, one after another,
 * with nothing else done per host. When a commit releases hundreds of
 * waiting hosts, or the build's first round starts a package on each host,
 * the master can do no better than this; herd's own work per start comes on
 * top (bench/latency.ts splits it).
 *
 * The hosts are a second process (as bench/lib/simfarm.ts is) holding N Unix
 * socket connections to this one, the transport of attach hosts. In each
 * burst the master writes a run message the size of a package's first task
 * to every connection in turn; the other process notes when each arrives,
 * on the same clock. Printed per N: when the last message arrived after the
 * burst began, the time per write, and how many of the N arrived later than
 * 20 ms (the dispatch latency goal of issue 17) in the median burst.
 *
 * Usage: node dist/bench/burst-floor.js [--hosts 100,500] [--bursts 20] [--bytes 700]
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { encodeRun } from "../src/protocol/messages.js";
import { median } from "./lib/measure.js";

/** Absolute milliseconds, comparable between the two processes. */
const clock = (): number => performance.timeOrigin + performance.now();

if (process.argv[2] === "--hosts-process") {
  // The hosts: connect N times, note each message's arrival, report each burst's arrivals.
  const [path, count] = [process.argv[3]!, Number(process.argv[4])];
  let arrivals: number[] = [];
  const arrived = (): void => {
    arrivals.push(clock());
    if (arrivals.length === count) {
      process.send?.(arrivals);
      arrivals = [];
    }
  };
  for (let i = 0; i < count; i++) {
    const s = createConnection(path);
    // Each burst's message ends with one newline of its own at its end ("\n\n" marks it).
    let tail = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => {
      const text = tail + d;
      let at = text.indexOf("\n\n");
      let from = 0;
      while (at >= 0) {
        arrived();
        from = at + 2;
        at = text.indexOf("\n\n", from);
      }
      tail = text.slice(from).slice(-1);
    });
  }
  process.on("message", (m) => {
    if (m === "stop") process.exit(0);
  });
} else {
  const { values } = parseArgs({
    options: {
      hosts: { type: "string", default: "100,500" },
      bursts: { type: "string", default: "20" },
      bytes: { type: "string", default: "700" },
    },
  });
  const bursts = Number(values.bursts);
  const bytes = Number(values.bytes);
  // A first task of about the size herd sends (Init: a shell script, the slot's paths, the environment).
  const message = (id: number): string => {
    const r = encodeRun({
      id,
      argv: ["sh", "-c", "x".repeat(Math.max(1, bytes - 160))],
      cwd: "pkgsrc/devel/example",
      env: [
        ["PATH", "/usr/pkg/bin:/usr/bin:/bin"],
        ["LC_ALL", "C"],
      ],
      output: "merge",
    });
    if (!r.ok) throw new Error(r.error.message);
    return `${r.value}\n`;
  };
  for (const n of values.hosts.split(",").map(Number)) {
    const dir = mkdtempSync(join(tmpdir(), "herd-burst-"));
    const path = join(dir, "sock");
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
    });
    await new Promise<void>((res) => server.listen(path, res));
    const hosts = fork(new URL(import.meta.url).pathname, ["--hosts-process", path, String(n)]);
    while (sockets.length < n) await new Promise((r) => setTimeout(r, 10));
    const lasts: number[] = [];
    const lates: number[] = [];
    const writes: number[] = [];
    for (let b = 0; b < bursts + 2; b++) {
      const got = new Promise<number[]>((res) => {
        hosts.once("message", (m) => {
          res(m as number[]);
        });
      });
      const msgs = sockets.map((_, i) => message(b * n + i));
      const t0 = clock();
      for (let i = 0; i < n; i++) sockets[i]!.write(msgs[i]!);
      const wrote = clock() - t0;
      const arrivals = await got;
      // The first two bursts warm both processes up.
      if (b < 2) continue;
      lasts.push(Math.max(...arrivals) - t0);
      lates.push(arrivals.filter((a) => a - t0 > 20).length);
      writes.push(wrote / n);
      await new Promise((r) => setTimeout(r, 50));
    }
    hosts.send("stop");
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `${n} hosts, ${bursts} bursts of one ${message(0).length}-byte message per host: ` +
        `last arrival median ${median(lasts).toFixed(1)} ms (min ${Math.min(...lasts).toFixed(1)}, ` +
        `max ${Math.max(...lasts).toFixed(1)}); ${(median(writes) * 1000).toFixed(0)} µs per write; ` +
        `arrived after 20 ms: median ${median(lates)} of ${n}`,
    );
  }
}
