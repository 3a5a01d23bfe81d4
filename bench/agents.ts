/**
 * Fifty real local agents (`sh` processes, LocalTransport) driven by one
 * master through the real HostPool: the time to start all of them and sync
 * the fixture tree to each, the same with the tree already there, then
 * tasks/s for zero-time tasks (`true`) and for the scan of the fixture tree
 * (`bmake pbulk-index` in every package directory), with the master's CPU
 * and RSS for each phase.
 *
 * Usage: node dist/bench/agents.js [--hosts 50] [--tasks 1000] [--scans 3]
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { HOST } from "../src/bulk/layout.js";
import { hostName } from "../src/core/hostspec.js";
import { runJobs as dispatchJobs } from "../src/bulk/dispatch.js";
import { LocalTransport } from "../src/hosts/local.js";
import { HostPool } from "../src/hosts/pool.js";
import { stampTree, treeSyncPrepare } from "../src/hosts/treesync/treesync.js";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "50" },
    tasks: { type: "string", default: "1000" },
    scans: { type: "string", default: "3" },
  },
});
const nHosts = Number(values.hosts);
const nTasks = Number(values.tasks);
const rounds = Number(values.scans);

const root = resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-agents-"));
const tree = join(tmp, "tree");
cpSync(join(root, "tests/fixtures/tree"), tree, {
  recursive: true,
  filter: (s) => !/\/work$|\.herd-tree-id$/.test(s),
});
stampTree(tree);
const pkgpaths = readdirSync(tree)
  .filter((c) => c !== "mk" && statSync(join(tree, c)).isDirectory())
  .flatMap((c) =>
    readdirSync(join(tree, c))
      .filter((p) => existsSync(join(tree, c, p, "Makefile")))
      .map((p) => `${c}/${p}`),
  );

interface Phase {
  readonly wallS: number;
  readonly cpuCores: number;
  readonly rssMB: number;
}

/** Runs `body`, measuring its wall time, the master's CPU over it and the peak RSS. */
async function measured<T>(body: () => Promise<T>): Promise<[T, Phase]> {
  let rss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage.rss());
  }, 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await body();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  rss = Math.max(rss, process.memoryUsage.rss());
  return [value, { wallS, cpuCores: (cpu.user + cpu.system) / 1e6 / wallS, rssMB: rss / 2 ** 20 }];
}

function newPool(): HostPool {
  const pool = new HostPool({
    prepare: treeSyncPrepare(tree, () => ({ dest: HOST.tree, sync: true })),
  });
  for (let i = 0; i < nHosts; i++) {
    pool.add({
      name: hostName(`local${i}`),
      transport: new LocalTransport({ root: join(tmp, "hosts", `local${i}`), shell: ["sh"] }),
      slots: 1,
      speed: 1,
      tags: [],
    });
  }
  return pool;
}

/** Waits until no host is connecting or syncing; returns how many are idle. */
async function settled(pool: HostPool): Promise<number> {
  const busy = (): boolean =>
    pool.list().some((h) => h.state.kind === "connecting" || h.state.kind === "syncing");
  while (busy()) await pool.changed();
  return pool.list().filter((h) => h.state.kind === "idle").length;
}

async function runJobs(
  pool: HostPool,
  jobs: { argv: string[]; cwd: string }[],
): Promise<{ ok: number; failed: number; where: Set<string> }> {
  let good = 0;
  let failed = 0;
  const where = new Set<string>();
  await dispatchJobs(pool, jobs, async (job, lease) => {
    const t = await lease.run({ argv: job.argv, cwd: job.cwd, output: "split" });
    if (!t.ok) return { kind: "lost", reason: t.error.message };
    if (t.value.status === 0) good++;
    else {
      failed++;
      where.add(job.cwd);
    }
    return { kind: "ok", value: null };
  });
  return { ok: good, failed, where };
}

const row = (what: string, p: Phase, extra: string): string =>
  `| ${what} | ${p.wallS.toFixed(2)} s | ${extra} | ${p.cpuCores.toFixed(2)} | ${p.rssMB.toFixed(0)} MB |`;

console.log(
  `${cpus().length} cores, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      " ",
    )} at the start (other work shares the machine); ${nHosts} local sh agents, fixture tree of ${pkgpaths.length} packages`,
);
console.log("");
console.log("| phase | wall | result | master CPU (cores) | master RSS |");
console.log("| --- | --- | --- | --- | --- |");
try {
  const pool = newPool();
  const [up, connect] = await measured(() => settled(pool));
  console.log(row(`start ${nHosts} agents + sync the tree to each`, connect, `${up} hosts idle`));
  const [t, tasks] = await measured(() =>
    runJobs(
      pool,
      Array.from({ length: nTasks }, () => ({ argv: ["true"], cwd: "." })),
    ),
  );
  console.log(
    row(
      `${nTasks} zero-time tasks (\`true\`)`,
      tasks,
      `${(nTasks / tasks.wallS).toFixed(0)} tasks/s (${t.failed} failed)`,
    ),
  );
  const scanJobs = Array.from({ length: rounds }, () =>
    pkgpaths.map((p) => ({ argv: ["bmake", "pbulk-index"], cwd: `${HOST.tree}/${p}` })),
  ).flat();
  const [s, scan] = await measured(() => runJobs(pool, scanJobs));
  console.log(
    row(
      `scan: bmake pbulk-index × ${scanJobs.length} (${rounds} × ${pkgpaths.length} packages)`,
      scan,
      `${(scanJobs.length / scan.wallS).toFixed(1)} scans/s (${s.failed} exited non-zero: ${[
        ...s.where,
      ]
        .map((w) => w.slice(HOST.tree.length + 1))
        .join(", ")})`,
    ),
  );
  const [, close] = await measured(() => pool.close());
  console.log(row(`close ${nHosts} agents`, close, ""));
  const again = newPool();
  const [up2, reconnect] = await measured(() => settled(again));
  console.log(
    row(`start ${nHosts} agents again (tree id matches: no sync)`, reconnect, `${up2} hosts idle`),
  );
  await again.close();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
