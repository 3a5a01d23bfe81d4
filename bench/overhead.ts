/**
 * herd's own cost per package on a slow build host, against the same
 * packages built by bare `bmake package` on the same host.
 *
 * The host is local, in a CPU cage (bench/lib/slowhost.ts) at FRACTION of one
 * core (default 0.05 = 1/20; a shell loop there runs 10-20x slower). The
 * packages are devel/libbase and the fixture tree's chain sysutils/tick1..tickN
 * (tickK needs libbase and tick1..tick(K-1): from none to N dependencies), with FIXTURE_SLEEP
 * seconds of "compiling" each (default 0, so what is left is overhead).
 *
 * 1. On the caged host: the agent's start (hello), one task's round trip
 *    (`true`), and one make parse (`bmake -V PKGNAME`, minus the round trip).
 * 2. `herd build` twice with the same host directory: the first syncs the
 *    tree, the second finds the tree id matching (the check's time is
 *    printed) and builds every package again in a fresh work directory; its
 *    per-stage times are the table.
 * 3. Bare: in the same cage, `bmake package` of each package in order, its
 *    dependencies installed with pkg_add beforehand (not timed).
 *
 * herd's cost for a package = herd's stages (Init .. Package, and bringing
 * the package back) − bare `bmake package`. Printed per package with where it
 * goes: Init, Clean, Vars, Depends (shipping + pkg_add), the make targets
 * beyond bare (one round trip and one make parse per extra make run), and the
 * return of the package. Then the same cost against a typical package: the
 * median build time of the 2026 bulk build's history (../shared/data), times
 * 1/FRACTION for the slow host.
 *
 * Needs root (cgroups). Usage:
 *   npx tsc -p . && node dist/bench/overhead.js [--fraction 0.05] [--chain 4] [--sleep 0] [--keep] [--micro] [--no-scan]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DEFAULT_TARGETS, HERD_STAGES } from "../src/core/targets.js";
import { AgentConnection } from "../src/hosts/connection.js";
import { LocalTransport } from "../src/hosts/local.js";
import { cageUnavailable, cpuCage, type CpuCage } from "./lib/slowhost.js";
import { buildArgs, FIXTURE_TOOLS, herdJson, sandbox, type Event } from "../tests/lib/fixture.js";
import { ROOT } from "../tests/lib/paths.js";
import { flag } from "./lib/measure.js";

const FRACTION = flag("fraction", 0.05);
const CHAIN = flag("chain", 4);
const SLEEP = flag("sleep", 0);
const REPEAT = 10;
/** --keep: herd builds with keepDepends (the chain's dependencies stay installed between builds). */
const KEEP = process.argv.includes("--keep");
/** --micro: only the agent's start, a task's round trip and a make parse on the caged host. */
const MICRO = process.argv.includes("--micro");
/** --no-scan: leave out the scan of the tree on the caged host (printed after the table). */
const SCAN = !process.argv.includes("--no-scan");

const why = cageUnavailable();
if (why !== null) {
  console.log(`bench/overhead: cannot run here: ${why}`);
  process.exit(0);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
};
const sec = (ms: number): string => (ms / 1000).toFixed(2);

/** Agent start, task round trip and make parse on the caged host (ms, medians). */
async function micro(cage: CpuCage, root: string, pkgdir: string): Promise<Record<string, number>> {
  const t0 = performance.now();
  const ch = await new LocalTransport({ root, shell: [cage.shell] }).open();
  if (!ch.ok) throw new Error(ch.error.message);
  const c = await AgentConnection.open(ch.value);
  if (!c.ok) throw new Error(c.error.message);
  const hello = performance.now() - t0;
  const conn = c.value;
  const time = async (argv: string[], cwd?: string): Promise<number> => {
    const xs: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const s = performance.now();
      const r = await conn.run({ argv, ...(cwd === undefined ? {} : { cwd }), output: "split" });
      if (!r.ok || r.value.status !== 0) throw new Error(`${argv.join(" ")} failed on the host`);
      xs.push(performance.now() - s);
    }
    return median(xs);
  };
  const roundTrip = await time(["true"]);
  const parse = (await time(["bmake", "-V", "PKGNAME"], pkgdir)) - roundTrip;
  await conn.close();
  return { hello, roundTrip, parse };
}

/** Bare `bmake package` of each package in the cage, dependencies installed first (ms each). */
function bare(cage: CpuCage, tree: string, dir: string, pkgs: readonly string[]): number[] {
  const env = {
    ...process.env,
    PATH: `${FIXTURE_TOOLS}:${join(dir, "pkg/bin")}:/usr/bin:/bin:/usr/sbin:/sbin`,
    LOCALBASE: join(dir, "pkg"),
    PKG_DBDIR: join(dir, "pkg/.pkgdb"),
    WRKOBJDIR: join(dir, "work"),
    PACKAGES: join(dir, "packages"),
    DISTDIR: join(dir, "distfiles"),
    BATCH: "yes",
    FIXTURE_SLEEP: String(SLEEP),
  };
  rmSync(dir, { recursive: true, force: true });
  for (const d of ["pkg/.pkgdb", "work", "packages/All", "distfiles"])
    mkdirSync(join(dir, d), { recursive: true });
  const out: number[] = [];
  for (const p of pkgs) {
    const cwd = join(tree, p);
    execFileSync("bmake", ["clean"], { cwd, env, stdio: "ignore" });
    const s = performance.now();
    const r = spawnSync(cage.shell, ["-c", "exec bmake package"], { cwd, env, encoding: "utf8" });
    out.push(performance.now() - s);
    if (r.status !== 0) throw new Error(`bare bmake package in ${p}: ${r.stderr}`);
    const name = execFileSync("bmake", ["-V", "${PKGNAME}"], { cwd, env, encoding: "utf8" }).trim();
    execFileSync("pkg_add", [join(dir, "packages/All", `${name}.tgz`)], { env, stdio: "ignore" });
  }
  return out;
}

/** The median wall time (s) of a package that built in the 2026 bulk build (its history), if the data is here. */
function typicalSeconds(): number | undefined {
  const file = join(ROOT, "../shared/data/pkgsrc-2026/history-bulk-large.zst");
  if (!existsSync(file)) return undefined;
  const lines = execFileSync("zstd", ["-dc", file], { encoding: "utf8" }).split("\n");
  const head = (lines[0] ?? "").split(",");
  const oi = head.indexOf("outcome");
  const di = head.indexOf("duration");
  const ms = lines
    .slice(1)
    .map((l) => l.split(","))
    .filter((f) => f[oi] === "success")
    .map((f) => Number(f[di]))
    .filter((x) => Number.isFinite(x) && x > 0);
  return ms.length === 0 ? undefined : median(ms) / 1000;
}

const box = sandbox("overhead", {
  env: { FIXTURE_SLEEP: String(SLEEP) },
  ...(KEEP ? { keepDepends: true } : {}),
});
const cage = cpuCage(`herd-slow-${process.pid}`, FRACTION, join(box.dir, "cage"));
try {
  // libbase first: tick1 needs it.
  const pkgs = [
    "devel/libbase",
    ...Array.from({ length: CHAIN }, (_, i) => `sysutils/tick${i + 1}`),
  ];
  const list = join(box.dir, "pkgs.txt");
  writeFileSync(list, pkgs.join("\n") + "\n");
  const hostRoot = join(box.dir, "host");
  const hosts = join(box.dir, "hosts.txt");
  writeFileSync(hosts, `slow local ${hostRoot} shell=${cage.shell}\n`);

  console.log(
    `bench/overhead: 1 local host at ${FRACTION} of a core, ${CHAIN} packages (tick1..tick${CHAIN}), FIXTURE_SLEEP=${SLEEP}${KEEP ? ", keepDepends" : ""}`,
  );
  const m = await micro(cage, join(box.dir, "probe"), join(box.tree, "sysutils/tick1"));
  console.log(
    `on the slow host: agent start ${sec(m.hello!)} s, task round trip ${m.roundTrip!.toFixed(0)} ms, make parse ${m.parse!.toFixed(0)} ms`,
  );
  if (MICRO) {
    cage.stop();
    rmSync(box.dir, { recursive: true, force: true });
    process.exit(0);
  }

  // Bare first: it is the quicker part.
  const bareMs = bare(cage, box.tree, join(box.dir, "bare"), pkgs);
  console.log(`bare bmake package: ${bareMs.map(sec).join(" ")} s`);

  const runs: Event[][] = [];
  for (const k of [1, 2]) {
    const r = await herdJson(
      ["build", ...buildArgs(box, join(box.dir, `work${k}`), hosts, list)],
      3_600_000,
    );
    if (r.code !== 0) throw new Error(`herd build ${k} failed: ${r.stderr.slice(-2000)}`);
    runs.push(r.events);
  }
  const ev = runs[1]!;
  const at = (e: Event): number => Date.parse(e.time as string);
  const hostEv = (state: string, detail?: RegExp): Event | undefined =>
    ev.find(
      (e) =>
        e.type === "host" &&
        e.state === state &&
        (detail === undefined || detail.test(String(e.detail))),
    );
  const connecting = hostEv("connecting");
  const up = hostEv("note", /^agent /);
  const syncing = hostEv("syncing");
  const synced = ev.find(
    (e) =>
      e.type === "host" &&
      e.state !== "syncing" &&
      syncing !== undefined &&
      at(e) >= at(syncing) &&
      e !== syncing &&
      e.state !== "note",
  );
  if (connecting && up && syncing && synced)
    console.log(
      `second build: connection and agent start ${sec(at(up) - at(connecting))} s, tree id check (id matches) ${sec(at(synced) - at(syncing))} s`,
    );

  // The make targets among herd's stages (Package runs `make package`).
  const makeStages = new Set<string>(
    DEFAULT_TARGETS.filter((t) => !HERD_STAGES.has(t) || t === "Package"),
  );
  console.log("");
  console.log(
    "| package | deps | herd (s) | bare bmake package (s) | herd's cost (s) | Init | Clean | Vars | Depends | make runs beyond bare | package back |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  const costs: number[] = [];
  pkgs.forEach((p, i) => {
    const name = `${p.split("/")[1]}-1.0`;
    const st = ev.filter((e) => e.type === "stage" && e.pkgname === name);
    const w = (s: string): number =>
      st.filter((e) => e.stage === s).reduce((a, e) => a + (e.wallMs as number), 0);
    const total = st.reduce((a, e) => a + (e.wallMs as number), 0);
    const make = st
      .filter((e) => makeStages.has(e.stage as string))
      .reduce((a, e) => a + (e.wallMs as number), 0);
    const b = bareMs[i]!;
    costs.push(total - b);
    console.log(
      `| ${name} | ${i} | ${sec(total)} | ${sec(b)} | ${sec(total - b)} | ${sec(w("Init"))} | ${sec(w("Clean"))} | ${sec(w("Vars"))} | ${sec(w("Depends"))} | ${sec(make - b)} | ${sec(w("Fetch"))} |`,
    );
  });
  const runsBeyond = makeStages.size - 1;
  console.log("");
  console.log(
    `make runs beyond bare: herd runs ${makeStages.size} make targets where bare runs 1; ${runsBeyond} more round trips and parses would be ${sec(runsBeyond * (m.roundTrip! + m.parse!))} s`,
  );
  const typical = typicalSeconds();
  const cost = median(costs) / 1000;
  console.log(`herd's cost per package (median): ${cost.toFixed(2)} s`);
  if (typical !== undefined) {
    const slow = typical / FRACTION;
    console.log(
      `a typical package (median of the 2026 history, ${typical.toFixed(0)} s on its builder) takes ${slow.toFixed(0)} s at ${FRACTION} of a core: herd's cost is ${((100 * cost) / slow).toFixed(2)} % of it`,
    );
  }

  if (SCAN) {
    // The scan of the whole tree on the caged host (its copy is synced), against
    // pbulk-index run in a loop there: what herd adds per directory.
    const scanStart = performance.now();
    const scanWall = Date.now();
    const scan = spawnSync(
      "node",
      [
        join(ROOT, "dist/src/cli/main.js"),
        "scan",
        "--tree",
        box.tree,
        "--hosts",
        hosts,
        "--work",
        join(box.dir, "work-scan"),
        "--output",
        join(box.dir, "scan.pscan"),
        "--json",
      ],
      { encoding: "utf8" },
    );
    const herdScanMs = performance.now() - scanStart;
    // The fixture tree has a broken directory on purpose: herd scan says so (exit 1) and scans the rest.
    if (scan.status !== 0 && !existsSync(join(box.dir, "scan.pscan")))
      throw new Error(`herd scan failed: ${scan.stderr.slice(-2000)}`);
    const scanEv = scan.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Event);
    const firstBusy = scanEv.find((e) => e.type === "host" && String(e.state).startsWith("busy"));
    const scanned = execFileSync(
      "sh",
      ["-c", `grep -c '^PKG_LOCATION=' "${join(box.dir, "scan.pscan")}"`],
      {
        encoding: "utf8",
      },
    ).trim();
    const dirs = [
      ...new Set(
        readFileSync(join(box.dir, "scan.pscan"), "latin1")
          .split("\n")
          .filter((l) => l.startsWith("PKG_LOCATION="))
          .map((l) => l.slice("PKG_LOCATION=".length)),
      ),
    ];
    const loopStart = performance.now();
    const loop = spawnSync(
      cage.shell,
      [
        "-c",
        'for d in "$@"; do (cd "$d" && bmake pbulk-index >/dev/null) || exit 1; done',
        "loop",
        ...dirs,
      ],
      {
        cwd: box.tree,
        encoding: "utf8",
        env: { ...process.env, PATH: `${FIXTURE_TOOLS}:${process.env.PATH ?? ""}` },
      },
    );
    const loopMs = performance.now() - loopStart;
    if (loop.status !== 0) throw new Error(`pbulk-index loop failed: ${loop.stderr}`);
    // From the moment the host took its first directory (connection and tree check left out).
    const herdScanOnly =
      firstBusy === undefined
        ? herdScanMs
        : scanWall + herdScanMs - Date.parse(firstBusy.time as string);
    console.log(
      `scan of ${dirs.length} directories (${scanned} records): herd scan ${sec(herdScanMs)} s in all (${sec(herdScanOnly)} s from the host's first directory), pbulk-index in a loop there ${sec(loopMs)} s; per directory ${sec(herdScanOnly / dirs.length)} s against ${sec(loopMs / dirs.length)} s`,
    );
  }
} finally {
  cage.stop();
  rmSync(box.dir, { recursive: true, force: true });
}
