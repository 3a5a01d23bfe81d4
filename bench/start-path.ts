/**
 * The master's own work per start in a burst, without the socket: N fake
 * hosts of one slot each (src/hosts/fake.ts: the real protocol, in memory)
 * and N packages with no dependencies, so the build loop's first round starts
 * one package on each host, one after another, through the real dispatch
 * loop, lease, job and connection, with the store's writer (SQLite on disk)
 * and an NDJSON display hearing the events, as in `herd build --json`. Each host's channel notes when its
 * package's first task (Init) is written into it. Printed per burst: the time
 * from the first Init written to the last, and per start. The bursts run one
 * after another in one process (the first with code the JIT has not seen),
 * each with a fresh pool and build loop; then the median of the later ones.
 *
 * bench/burst-floor.ts measures the socket writes alone; bench/latency.ts
 * splits a real build's starts.
 *
 * Usage: node dist/bench/start-path.js [--hosts 100,500] [--bursts 6]
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { defaultConfig } from "../src/cli/config.js";
import { buildLoop, type LoopPackage } from "../src/bulk/loop.js";
import { hostName } from "../src/core/hostspec.js";
import { EventBus } from "../src/events/types.js";
import { createDisplay } from "../src/cli/progress.js";
import { packageRow, Store } from "../src/store/store.js";
import { EventWriter } from "../src/store/writer.js";
import { FakeTransport, type FakeHandler } from "../src/hosts/fake.js";
import { HostPool } from "../src/hosts/pool.js";
import { median } from "./lib/measure.js";
import { simPackage } from "./lib/simpkgsrc.js";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "100,500" },
    bursts: { type: "string", default: "6" },
  },
});
const sizes = values.hosts.split(",").map(Number);
const bursts = Number(values.bursts);
// The figure is the median of the warm bursts (the 2nd on), each timed from its first start to its last.
if (!Number.isInteger(bursts) || bursts < 2)
  throw new Error(
    `--bursts ${values.bursts}: give a whole number of at least 2 (the first is cold)`,
  );
for (const n of sizes)
  if (!Number.isInteger(n) || n < 2)
    throw new Error(
      `--hosts ${values.hosts}: give whole numbers of at least 2, separated by commas`,
    );

/** Answers each make run as a package that builds: PKGNAME for -V, the package file for `package`. */
const handler: FakeHandler = (run) => {
  const pkgname = /\/(p\d+)$/.exec(run.cwd)?.[1] ?? "";
  const name = `${pkgname}-1.0`;
  if (run.argv.includes("-V")) return Promise.resolve({ status: 0, output: `${name}\n` });
  if (run.argv.at(-1) === "package")
    run.files.set(
      `${run.env.get("PACKAGES")!}/All/${name}.tgz`,
      simPackage(name, `cat/${pkgname}`),
    );
  return Promise.resolve({ status: 0 });
};

/** One burst of n starts: the times (ms) at which each host's first task was written. */
async function burst(n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "herd-start-path-"));
  const pool = new HostPool({ heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 600_000 });
  const inits: number[] = [];
  mkdirSync(join(dir, "All"));
  try {
    for (let i = 0; i < n; i++) {
      const t = new FakeTransport({ handler });
      // The first run message written into the host's channel is its package's Init.
      const open = t.open.bind(t);
      t.open = async () => {
        const r = await open();
        if (!r.ok) return r;
        const input = r.value.input;
        const write = input.write.bind(input) as (chunk: unknown) => boolean;
        let seen = false;
        // The host reads what was written at the next turn, as a remote host would, so that its
        // own work (in this process) is not counted in the master's starts.
        let queued: unknown[] | undefined;
        input.write = ((chunk: unknown) => {
          if (!seen && typeof chunk === "string" && chunk.startsWith("run ")) {
            seen = true;
            inits.push(performance.now());
          }
          if (queued !== undefined) queued.push(chunk);
          else {
            queued = [chunk];
            setImmediate(() => {
              const all = queued ?? [];
              queued = undefined;
              for (const c of all) write(c);
            });
          }
          return true;
        }) as typeof input.write;
        return r;
      };
      const added = pool.add({
        name: hostName(`h${i}`),
        transport: t,
        slots: 1,
        speed: 1,
        tags: [],
      });
      if (!added.ok) throw new Error(`host h${i}: ${added.error.message}`);
    }
    while (pool.list().some((h) => h.state.kind !== "idle")) await pool.changed();
    const packages: LoopPackage[] = Array.from({ length: n }, (_, i) => ({
      pkgname: `p${i}-1.0`,
      pkgpath: `cat/p${i}`,
      makeArgs: [],
      installs: [],
      deps: [],
      expectedSeconds: 10,
      weight: undefined,
    }));
    // What hears each event in `herd build --json`: the store's writer (SQLite on disk), then NDJSON.
    const store = new Store(join(dir, "herd.db"));
    const buildId = store.startBuild("/tree", "id", Date.now());
    store.insertPackages(
      buildId,
      packages.map((p) => packageRow(p.pkgname, p.pkgpath, "pending")),
    );
    const writer = new EventWriter(store, buildId);
    const bus = new EventBus();
    writer.attach(bus);
    writer.track(packages.map((p) => [p.pkgname, "pending"]));
    const display = createDisplay("json", createWriteStream("/dev/null"));
    bus.on(display.onEvent);
    const t0 = performance.now();
    const r = await buildLoop({
      pool,
      packages,
      config: { ...defaultConfig(), bootstrapKit: "", batchStages: false },
      policy: defaultConfig().policy,
      repo: join(dir, "All"),
      logDir: (name) => join(dir, "logs", name),
      bus,
      now: () => (performance.now() - t0) / 1000,
      durable: () => undefined,
    });
    writer.close();
    display.close();
    store.close();
    if (r.built !== n) throw new Error(`built ${r.built} of ${n}`);
    if (inits.length !== n) throw new Error(`saw ${inits.length} first tasks of ${n}`);
    return inits;
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const n of sizes) {
  const spans: number[] = [];
  for (let b = 0; b < bursts; b++) {
    const inits = await burst(n);
    const span = Math.max(...inits) - Math.min(...inits);
    console.log(
      `${n} hosts, burst ${b + 1}${b === 0 ? " (cold)" : ""}: first Init to last ${span.toFixed(1)} ms, ${((span / (n - 1)) * 1000).toFixed(0)} µs per start`,
    );
    if (b > 0) spans.push(span);
  }
  const m = median(spans);
  console.log(
    `${n} hosts, median of bursts 2-${bursts}: ${m.toFixed(1)} ms, ${((m / (n - 1)) * 1000).toFixed(0)} µs per start`,
  );
}
