/**
 * Full-tree scan of the real 2013 pkgsrc tree (about 11,000 package
 * directories): `herd scan` on 2 local hosts against pkgsrc's own
 * `pbulk-scan` with 2 clients (its master mode, clients on this machine), in
 * the same run, on the same tree with the same bmake. Prints wall times,
 * packages per second, herd's overhead per package and whether the two
 * record sets are equal.
 *
 * Usage: npx tsc -p . && node dist/bench/real-scan.js [--limit N] [--herd-first]
 *   --limit N     only the first N directories (both tools in their list mode)
 *   --herd-first  run herd before pbulk (default: pbulk first)
 * The hosts' tree copies are kept in the cache (first run: one sync per host,
 * done before the timed scan).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { listPackageDirs } from "../src/build/scan-step.js";
import { CLI } from "../tests/lib/paths.js";
import {
  hostSet,
  localHostsFile,
  preparePkgsrc2013,
  recordSet,
  runCmd,
  syncHosts,
} from "../tests/lib/pkgsrc2013.js";

const args = process.argv.slice(2);
const limitAt = args.indexOf("--limit");
const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : undefined;
const herdFirst = args.includes("--herd-first");
const CLIENTS = 2;

const p = preparePkgsrc2013();
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-real-scan-"));
const dirs = listPackageDirs(p.tree);
const list = limit === undefined ? undefined : dirs.slice(0, limit);
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
  await new Promise((r) => setTimeout(r, 1000));
  const clients = Array.from({ length: CLIENTS }, () =>
    runCmd([p.pbulkScan, "-c", addr, "-M", p.bmake, p.tree], { timeoutMs: 3 * 3600_000 }),
  );
  const m = await master;
  await Promise.all(clients);
  if (m.code !== 0) throw new Error(`pbulk-scan failed: ${m.stderr.slice(-2000)}`);
  return m.seconds;
}

// The hosts get the tree (once per machine) outside the timed run.
await syncHosts(
  p.tree,
  Array.from({ length: CLIENTS }, (_, i) => join(hostSet(p, "real-scan"), `local${i + 1}`)),
);

const times: Record<string, number> = {};
for (const tool of herdFirst ? ["herd", "pbulk"] : ["pbulk", "herd"]) {
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
const n = list?.length ?? dirs.length;
const herdS = times.herd ?? 0;
const pbulkS = times.pbulk ?? 0;
console.log(
  `real 2013 tree: ${n} package directories, ${theirs.length} records (pbulk-scan), ${ours.length} (herd); ${CLIENTS} scanners each on this ${availableParallelism()}-core machine`,
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
