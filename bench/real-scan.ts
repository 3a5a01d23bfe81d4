/**
 * Full-tree scan of the real 2013 pkgsrc tree (about 11,000 package
 * directories): `herd scan` on 2 local hosts against pkgsrc's own
 * `pbulk-scan` with 2 clients (its master mode, clients on this machine), in
 * the same run, on the same tree with the same bmake. Prints wall times,
 * packages per second, herd's overhead per package and whether the two
 * record sets are equal.
 *
 * Usage: npx tsc -p . && node dist/bench/real-scan.js [--subset | --sample N] [--herd-first]
 *   --subset      only tests/fixtures/pkgsrc2013/scan-subset.txt (281 directories,
 *                 closed under dependencies; both tools in their list mode)
 *   --sample N    every Nth package directory of the whole tree (sorted), all
 *                 categories; both tools in their list mode. pbulk-scan -l
 *                 scans only the listed directories, herd scan --pkgs also
 *                 those they depend on, so the sets differ unless the list is
 *                 closed under dependencies: use --sample once, then
 *   --list FILE   these package directories (one per line), e.g. the
 *                 PKG_LOCATIONs of the scan --sample left behind.
 * On a 2-core machine the whole tree takes hours per tool (about 1.5 s of
 * bmake per directory on average), a sample of it minutes.
 *   --herd-first  run herd before pbulk (default: pbulk first)
 *   --pbulk-done FILE SECONDS  reuse pbulk-scan's output and wall time from a
 *                 run of this bench that stopped before herd's turn
 *   --task-cost   only measure what one task costs through herd (a local agent
 *                 running `true` 300 times in a row), the floor of its overhead
 * The hosts' tree copies are kept in the cache (first run: one sync per host,
 * done before the timed scan).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { listPackageDirs } from "../src/bulk/scan-step.js";
import { hostName } from "../src/core/hostspec.js";
import { LocalTransport } from "../src/hosts/local.js";
import { HostPool } from "../src/hosts/pool.js";
import { CLI, ROOT } from "../tests/lib/paths.js";
import {
  hostSet,
  localHostsFile,
  preparePkgsrc2013,
  recordSet,
  runCmd,
  syncHosts,
} from "../tests/lib/pkgsrc2013.js";

const args = process.argv.slice(2);
const herdFirst = args.includes("--herd-first");
const CLIENTS = 2;

if (args.includes("--task-cost")) {
  const ms = await taskCost(300);
  console.log(
    `one task through herd's local agent (run \`true\`, result back): ${ms.toFixed(2)} ms`,
  );
  process.exit(0);
}

/** Mean wall time of a no-op task on one local host, in ms. */
async function taskCost(n: number): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), "herd-bench-task-"));
  const pool = new HostPool({});
  try {
    const name = hostName("probe");
    pool.add({ name, transport: new LocalTransport({ root }), slots: 1, speed: 1, tags: [] });
    while (pool.get(name)?.state.kind !== "idle") await pool.changed();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const r = await pool.run(name, { argv: ["true"] });
      if (!r.ok || r.value.status !== 0) throw new Error("the probe task failed");
    }
    return (performance.now() - t0) / n;
  } finally {
    await pool.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const p = preparePkgsrc2013();
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-real-scan-"));
const dirs = listPackageDirs(p.tree);
const sampleArg = args.indexOf("--sample");
const sample = sampleArg >= 0 ? Number(args[sampleArg + 1]) : undefined;
if (sample !== undefined && !(Number.isInteger(sample) && sample >= 1))
  throw new Error("--sample takes a whole number >= 1");
const listArg = args.indexOf("--list");
const listFile = args.includes("--subset")
  ? join(ROOT, "tests/fixtures/pkgsrc2013/scan-subset.txt")
  : listArg >= 0
    ? args[listArg + 1]
    : undefined;
const list =
  listFile !== undefined
    ? readFileSync(listFile, "utf8")
        .split("\n")
        .map((l) => l.replace(/#.*/, "").trim())
        .filter((l) => l !== "")
        .sort()
    : sample !== undefined
      ? [...dirs].sort().filter((_, i) => i % sample === 0)
      : undefined;
if (list !== undefined) writeFileSync(join(tmp, "list"), list.join("\n") + "\n");
const hostsFile = localHostsFile(hostSet(p, "real-scan"), CLIENTS, join(tmp, "hosts"));

function herdArgs(work: string, out: string): string[] {
  return [
    "node",
    CLI,
    "scan",
    "--tree",
    p.tree,
    "--hosts",
    hostsFile,
    "--make",
    p.bmake,
    "--work",
    work,
    "--output",
    out,
    "--json",
    ...(list === undefined ? [] : ["--pkgs", join(tmp, "list")]),
  ];
}

async function herd(): Promise<number> {
  const r = await runCmd(herdArgs(join(tmp, "herd-work"), join(tmp, "herd.pscan")), {
    timeoutMs: 3 * 3600_000,
  });
  if (r.code !== 0) throw new Error(`herd scan failed: ${r.stderr.slice(-2000)}`);
  return r.seconds;
}

/** Waits until something listens on 127.0.0.1:port (read from /proc/net/tcp, without connecting). */
async function listening(port: number, ms: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const t0 = Date.now();
  for (;;) {
    const table = readFileSync("/proc/net/tcp", "utf8").split("\n");
    // local_address is the second column, st (0A: LISTEN) the fourth.
    if (
      table.some(
        (l) =>
          l.trim().split(/\s+/)[1]?.endsWith(hex) === true && l.trim().split(/\s+/)[3] === "0A",
      )
    )
      return;
    if (Date.now() - t0 > ms) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** pbulk-scan's master on a free port, then CLIENTS clients; the master's wall time. */
async function pbulk(): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const addr = `127.0.0.1:${port}`;
  const master = runCmd(
    [
      p.pbulkScan,
      ...(list === undefined ? [] : ["-l"]),
      "-m",
      addr,
      "-M",
      p.bmake,
      p.tree,
      join(tmp, "pbulk.pscan"),
    ],
    { timeoutMs: 3 * 3600_000, ...(list === undefined ? {} : { stdin: join(tmp, "list") }) },
  );
  // The master lists the tree's SUBDIRs before it listens; clients that find no master give up.
  await listening(port, 10 * 60_000);
  const clients = Array.from({ length: CLIENTS }, () =>
    runCmd([p.pbulkScan, "-c", addr, "-M", p.bmake, p.tree], { timeoutMs: 3 * 3600_000 }),
  );
  const m = await master;
  const cs = await Promise.all(clients);
  if (m.code !== 0) throw new Error(`pbulk-scan failed: ${m.stderr.slice(-2000)}`);
  for (const c of cs) if (c.code !== 0) throw new Error(`a pbulk-scan client failed: ${c.stderr}`);
  return m.seconds;
}

// The hosts get the tree (once per machine) outside the timed run.
await syncHosts(
  p.tree,
  Array.from({ length: CLIENTS }, (_, i) => join(hostSet(p, "real-scan"), `local${i + 1}`)),
);

const times: Record<string, number> = {};
// --pbulk-done FILE SECONDS: pbulk-scan's output and wall time from a run of
// this bench that stopped before herd's turn; only herd runs.
const doneArg = args.indexOf("--pbulk-done");
if (doneArg >= 0) {
  copyFileSync(args[doneArg + 1]!, join(tmp, "pbulk.pscan"));
  times.pbulk = Number(args[doneArg + 2]);
}
for (const tool of herdFirst ? ["herd", "pbulk"] : ["pbulk", "herd"]) {
  if (times[tool] !== undefined) continue;
  process.stderr.write(`${new Date().toISOString()} ${tool} scan...\n`);
  times[tool] = tool === "herd" ? await herd() : await pbulk();
  process.stderr.write(`${new Date().toISOString()} ${tool}: ${times[tool].toFixed(1)} s\n`);
}

const theirs = recordSet(readFileSync(join(tmp, "pbulk.pscan"), "latin1"));
const ours = recordSet(readFileSync(join(tmp, "herd.pscan"), "latin1"));
const theirSet = new Set(theirs);
const ourSet = new Set(ours);
const onlyPbulk = theirs.filter((r) => !ourSet.has(r));
const onlyHerd = ours.filter((r) => !theirSet.has(r));
const name = (r: string): string => r.slice(8, r.indexOf("\n"));
// Directories scanned: the list and what it depends on (every record names its directory).
const locations = new Set(theirs.map((r) => /^PKG_LOCATION=(.*)$/m.exec(r)?.[1] ?? r));
const n = list === undefined ? dirs.length : locations.size;
const herdS = times.herd ?? 0;
const pbulkS = times.pbulk ?? 0;
console.log(
  `real 2013 tree: ${n} package directories${list === undefined ? "" : ` (${list.length} listed${sample === undefined ? "" : `, every ${sample}th of ${dirs.length}`}, and their dependencies)`}, ${theirs.length} records (pbulk-scan), ${ours.length} (herd); ${CLIENTS} scanners each on this ${availableParallelism()}-core machine`,
);
console.log("tool                        wall (s)  dirs/s   records/s");
for (const [label, s, recs] of [
  [`pbulk-scan, ${CLIENTS} clients`, pbulkS, theirs.length],
  [`herd scan, ${CLIENTS} local hosts`, herdS, ours.length],
] as const)
  console.log(
    `${label.padEnd(26)}  ${s.toFixed(1).padStart(8)}  ${(n / s).toFixed(1).padStart(6)}  ${(recs / s).toFixed(1).padStart(9)}`,
  );
console.log(
  `herd/pbulk wall ratio ${(herdS / pbulkS).toFixed(3)}; herd's overhead per directory ${(((herdS - pbulkS) * CLIENTS * 1000) / n).toFixed(1)} ms of scanner time (negative: faster)`,
);
console.log(
  onlyPbulk.length === 0 && onlyHerd.length === 0
    ? "record sets equal"
    : `record sets DIFFER: ${onlyPbulk.length} only in pbulk's (${onlyPbulk.slice(0, 5).map(name).join(" ")}), ${onlyHerd.length} only in herd's (${onlyHerd.slice(0, 5).map(name).join(" ")}); files kept in ${tmp}`,
);
if (onlyPbulk.length === 0 && onlyHerd.length === 0) rmSync(tmp, { recursive: true, force: true });
