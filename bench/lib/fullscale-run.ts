/**
 * One full-size run of the real master: `herd build` (the CLI operators run,
 * unchanged) on a tree of the real 2026 scan, with a farm of simulated attach
 * hosts (simfarm.ts) in a process of its own. Optionally SIGKILLs the master
 * part-way through the build and runs the same command again (resume).
 *
 * Measures the master from outside (/proc: CPU, peak RSS), the store, the
 * report, and reads the dispatch latency from the farm. Returns what was
 * built and failed, to be checked against `herd resolve`'s classification
 * and the injected failures (expectedOutcomes). HERD_MASTER_NODE_ARGS adds
 * node options to the master (e.g. --cpu-prof).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { closedSubset, DATA_2026, readZst, scanOf, writeSimTree } from "./simpkgsrc.js";

const ROOT = resolve(import.meta.dirname, "../..");
const HERD = join(ROOT, "src/cli/main.js");
const FARM = join(ROOT, "bench/lib/simfarm.js");

export interface FullRunOptions {
  readonly work: string;
  readonly hosts: number;
  /** Directories picked (with what they depend on); 0: the whole tree. */
  readonly dirs: number;
  /** Wall seconds per simulated second. */
  readonly scale: number;
  readonly failRate: number;
  readonly seed: string;
  /** SIGKILL the master once this share of the build has settled, then resume. */
  readonly killAt?: number;
  /** Stop the run (SIGKILL the master, no resume) once this many packages have started. */
  readonly stopAfterStarts?: number;
  /**
   * The farm's niceness (nice(1)): it stands for remote machines, which on
   * a machine of their own would never take a CPU from the master; 0 keeps
   * it at the master's priority.
   */
  readonly farmNice?: number;
  /** Extra config of the build (JSON config file keys). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly timeoutSeconds: number;
  readonly log?: (line: string) => void;
  /** After the SIGKILL, before the master runs again: given the master's work directory. */
  readonly afterKill?: (masterWork: string) => Promise<void>;
}

export interface MasterRun {
  readonly wallS: number;
  readonly cpuS: number;
  readonly peakRssMB: number;
  /** Seconds from the start to the build phase (scan, resolve, plan done). */
  readonly toBuildS: number | null;
  readonly buildS: number | null;
  /** The master's CPU seconds during the build phase (null: unknown). */
  readonly buildCpuS: number | null;
  readonly reportS: number | null;
  /** When the report phase began (ms since the epoch), to split it by the files' times. */
  readonly reportWallMs: number | null;
  /** The build-end event's word on the repository's index (packages, read at the report, indexed during the build). */
  readonly repository: { packages: number; read: number; indexedInBuild: number } | null;
  readonly exit: number | null;
  readonly killed: boolean;
  /** Stopped after stopAfterStarts starts: the outcome is partial. */
  readonly stopped: boolean;
  /** Packages each event named: started, built, failed (at a stage). */
  readonly started: readonly string[];
  readonly built: readonly string[];
  readonly failed: readonly string[];
  readonly stderr: string;
}

export interface FullRunResult {
  readonly packages: number;
  readonly dirs: number;
  readonly runs: readonly MasterRun[];
  readonly counts: Record<string, number>;
  /** pkgname → state, from the store (what the report shows). */
  readonly states: Map<string, string>;
  readonly failedAt: Map<string, string>;
  readonly events: number;
  readonly storeBytes: number;
  readonly reportBytes: number;
  /**
   * The report phase's two parts, from the files' times: the repository's index
   * (pkg_summary.gz and SHA512 of every package), then the report itself.
   */
  readonly indexedMs: number | null;
  readonly reportWrittenMs: number | null;
  readonly farm: { dispatchMs: { n: number; p50: number; p99: number; max: number } } | null;
  /** The scan of the tree (pbulk-scan output), for `herd resolve`. */
  readonly scanFile: string;
}

/** CPU seconds and peak RSS (MB) of a live process, from /proc. */
function procFigures(pid: number): { cpuS: number; rssMB: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuS: ticks / 100, rssMB: hwm / 1024 };
  } catch {
    return null;
  }
}

function runMaster(
  args: readonly string[],
  killAt: number | undefined,
  timeoutMs: number,
  log: (line: string) => void,
  spawned: (p: ChildProcess) => void,
  stopAfter?: number,
): Promise<MasterRun> {
  const t0 = performance.now();
  const nodeArgs = (process.env.HERD_MASTER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const p: ChildProcess = spawn(process.execPath, [...nodeArgs, HERD, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  spawned(p);
  let last = { cpuS: 0, rssMB: 0 };
  const poll = setInterval(() => {
    const f = procFigures(p.pid ?? -1);
    // A zombie's status has no VmHWM: keep the highest figures seen.
    if (f !== null)
      last = { cpuS: Math.max(last.cpuS, f.cpuS), rssMB: Math.max(last.rssMB, f.rssMB) };
  }, 200);
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  let stderr = "";
  p.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const started: string[] = [];
  const built: string[] = [];
  const failed: string[] = [];
  let toBuild: number | null = null;
  let cpuAtBuild: number | null = null;
  let cpuAtReport: number | null = null;
  let cpuAtStop: number | null = null;
  let stopAt: number | null = null;
  let reportAt: number | null = null;
  let reportWallMs: number | null = null;
  let endAt: number | null = null;
  let repository: MasterRun["repository"] = null;
  let killed = false;
  let stopped = false;
  let lastLog = 0;
  const rl = createInterface({ input: p.stdout! });
  rl.on("line", (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const now = performance.now();
    if (e.type === "phase" && e.phase === "build") {
      toBuild = now;
      cpuAtBuild = procFigures(p.pid ?? -1)?.cpuS ?? null;
    }
    if (e.type === "phase" && e.phase === "report") {
      cpuAtReport = procFigures(p.pid ?? -1)?.cpuS ?? null;
      reportAt = now;
      reportWallMs = Date.now();
    }
    if (e.type === "build-end") {
      endAt = now;
      if (typeof e.repository === "object" && e.repository !== null)
        repository = e.repository as NonNullable<MasterRun["repository"]>;
    }
    if (e.type === "package-start") {
      started.push(String(e.pkgname));
      if (stopAfter !== undefined && !stopped && started.length >= stopAfter) {
        stopped = true;
        const f = procFigures(p.pid ?? -1);
        if (f !== null) last = f;
        log(`  ${started.length} packages started: stopping the run`);
        cpuAtStop = f?.cpuS ?? null;
        stopAt = performance.now();
        // A profiled master (--cpu-prof) writes its profile when it exits: it is asked to stop.
        if (nodeArgs.some((a) => a.startsWith("--cpu-prof"))) {
          p.kill("SIGTERM");
          setTimeout(() => p.kill("SIGKILL"), 60_000).unref();
        } else p.kill("SIGKILL");
      }
    }
    if (e.type === "package-end" && e.result === "built") built.push(String(e.pkgname));
    if (e.type === "package-end" && e.result === "failed") failed.push(String(e.pkgname));
    if (e.type === "progress") {
      const done = Number(e.done);
      const total = Number(e.total);
      if (now - lastLog > 5000) {
        lastLog = now;
        const f = procFigures(p.pid ?? -1);
        log(
          `  ${done}/${total} settled, ${String(e.running)} running, ${((now - t0) / 1000).toFixed(0)} s${f === null ? "" : `, master ${f.cpuS.toFixed(0)} CPU s, ${f.rssMB.toFixed(0)} MB`}`,
        );
      }
      if (killAt !== undefined && !killed && total > 0 && done >= killAt * total) {
        killed = true;
        const f = procFigures(p.pid ?? -1);
        if (f !== null) last = f;
        p.kill("SIGKILL");
      }
    }
  });
  return new Promise((res) => {
    p.on("close", (code) => {
      // A master that died by itself says why on stderr.
      if (code !== 0 && !killed && !stopped)
        log(`master exited ${String(code)}: ${stderr.slice(-3000)}`);
      clearInterval(poll);
      clearTimeout(timer);
      const end = performance.now();
      res({
        wallS: (end - t0) / 1000,
        cpuS: last.cpuS,
        peakRssMB: last.rssMB,
        toBuildS: toBuild === null ? null : (toBuild - t0) / 1000,
        buildS: toBuild === null ? null : ((stopAt ?? reportAt ?? end) - toBuild) / 1000,
        buildCpuS:
          cpuAtBuild === null ? null : (cpuAtStop ?? cpuAtReport ?? last.cpuS) - cpuAtBuild,
        reportS: reportAt === null ? null : ((endAt ?? end) - reportAt) / 1000,
        reportWallMs,
        repository,
        exit: code,
        killed,
        stopped,
        started,
        built,
        failed,
        stderr,
      });
    });
  });
}

export async function fullRun(o: FullRunOptions): Promise<FullRunResult> {
  const log = o.log ?? ((): void => undefined);
  rmSync(o.work, { recursive: true, force: true });
  mkdirSync(o.work, { recursive: true });
  const scan = readZst(join(DATA_2026, "pscan.zst"));
  const only = closedSubset(scan, o.dirs > 0 ? o.dirs : Number.MAX_SAFE_INTEGER, o.seed);
  const tree = join(o.work, "tree");
  const dirs = writeSimTree(tree, only);
  const scanFile = join(o.work, "scan");
  const mine = scanOf(scan, only);
  writeFileSync(scanFile, mine);
  const onlyFile = join(o.work, "dirs");
  writeFileSync(onlyFile, [...only].join("\n") + "\n");
  const hostsFile = join(o.work, "hosts");
  writeFileSync(
    hostsFile,
    Array.from({ length: o.hosts }, (_, i) => `sim${i + 1} attach\n`).join(""),
  );
  const configFile = join(o.work, "config.json");
  writeFileSync(configFile, JSON.stringify({ distfiles: "host", ...o.config }, null, 2));
  const masterWork = join(o.work, "w");
  const statsFile = join(o.work, "farm.json");
  const nice = o.farmNice ?? 0;
  const farmArgv = [
    process.execPath,
    FARM,
    "--work",
    masterWork,
    "--tree",
    tree,
    "--hosts",
    String(o.hosts),
    "--scale",
    String(o.scale),
    "--fail-rate",
    String(o.failRate),
    "--seed",
    o.seed,
    "--stats",
    statsFile,
    "--max-seconds",
    String(o.timeoutSeconds),
    ...(o.dirs > 0 ? ["--only", onlyFile] : []),
    // With the master's latency trace (HERD_TRACE, src/bulk/trace.ts), the farm's beside it.
    ...(process.env.HERD_TRACE === undefined
      ? []
      : ["--trace", `${process.env.HERD_TRACE}.farm.json`]),
  ];
  const [command, ...argv] = nice === 0 ? farmArgv : ["nice", "-n", String(nice), ...farmArgv];
  const farm = spawn(command!, argv, { stdio: ["ignore", "inherit", "inherit"] });
  // A farm that dies leaves the master waiting for hosts that never dial in: the
  // run stops there and says so, rather than at its deadline.
  const farmState: { died: string | null } = { died: null };
  let master: ChildProcess | null = null;
  const farmExited = (code: number | null, signal: NodeJS.Signals | null): void => {
    farmState.died = `the simulated farm exited by itself (${signal ?? `exit code ${String(code)}`}) while the master ran`;
    log(farmState.died);
    master?.kill("SIGKILL");
  };
  farm.once("exit", farmExited);
  const args = [
    "build",
    "--tree",
    tree,
    "--hosts",
    hostsFile,
    "--work",
    masterWork,
    "-c",
    configFile,
    "--json",
  ];
  const runs: MasterRun[] = [];
  const deadline = performance.now() + o.timeoutSeconds * 1000;
  try {
    log(`master: herd ${args.join(" ")}`);
    const spawned = (p: ChildProcess): void => {
      master = p;
    };
    let r = await runMaster(
      args,
      o.killAt,
      deadline - performance.now(),
      log,
      spawned,
      o.stopAfterStarts,
    );
    runs.push(r);
    if (r.killed && farmState.died === null) {
      log(`master SIGKILLed at ${o.killAt}; resuming`);
      await o.afterKill?.(masterWork);
      r = await runMaster(args, undefined, deadline - performance.now(), log, spawned);
      runs.push(r);
    }
    if (farmState.died !== null) throw new Error(farmState.died);
  } finally {
    // From here the farm is stopped on purpose.
    farm.off("exit", farmExited);
    if (farm.exitCode === null && farm.signalCode === null) {
      const closed = new Promise((r) => farm.once("close", r));
      farm.kill("SIGTERM");
      await closed;
    }
  }
  const db = new Database(join(masterWork, "herd.db"), { readonly: true });
  const rows = db
    .prepare(
      "SELECT pkgname, state, failed_stage AS stage FROM packages WHERE build_id = (SELECT MAX(id) FROM builds)",
    )
    .all() as { pkgname: string; state: string; stage: string | null }[];
  const events = (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
  db.close();
  const states = new Map(rows.map((r) => [r.pkgname, r.state]));
  const failedAt = new Map(
    rows.filter((r) => r.state === "failed" && r.stage !== null).map((r) => [r.pkgname, r.stage!]),
  );
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  const db0 = join(masterWork, "herd.db");
  const farmStats = existsSync(statsFile)
    ? (JSON.parse(readFileSync(statsFile, "utf8")) as FullRunResult["farm"])
    : null;
  return {
    packages: rows.length,
    dirs,
    runs,
    counts,
    states,
    failedAt,
    events,
    storeBytes: size(db0) + size(`${db0}-wal`),
    reportBytes: size(join(masterWork, "report", "report.html")),
    indexedMs: mtimeMs(join(masterWork, "packages", "SHA512")),
    reportWrittenMs: mtimeMs(join(masterWork, "report", "report.html")),
    farm: farmStats,
    scanFile,
  };
}

function mtimeMs(file: string): number | null {
  return statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? null;
}
