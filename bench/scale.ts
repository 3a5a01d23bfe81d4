/**
 * Scale: one master driving hundreds of hosts. Every buildable package of
 * the full 29,022-package tree (presolve.zst, resolved as herd resolve does)
 * runs as one task, scheduled by the real scheduler (policy "herd") through
 * the real HostPool and agent protocol, on fake hosts reached over unix
 * sockets (bench/lib/socket-hosts.ts). Each configuration runs in a fresh
 * process, so its CPU and RSS are its own.
 *
 * Configurations: zero-time tasks on each of --hosts (the master saturated:
 * its throughput, and latency that is mostly queueing); the same with the
 * fake hosts inside the master's process (--in-process); and tasks paced so
 * the hosts together offer --paced-rate tasks/s whatever their number
 * (--paced-hosts), where latency is the master's responsiveness, with the
 * durations known to the scheduler (history) and, for 500 hosts, cold.
 *
 * Usage: node dist/bench/scale.js [--hosts 100,500,1000] [--in-process 500]
 *          [--paced-hosts 100,500] [--paced-rate 1000] [--rt yes|no] [--timeout 360]
 * One configuration alone: node dist/bench/scale.js --run --hosts 500 --task-ms 500 [--history]
 *   With HERD_BENCH_TRACE=FILE it also writes, per task, when the master saw it
 *   could start, decided, and the host got it ("t seen decided received since
 *   host", ms from the start), the scheduler calls over 0.5 ms ("r"/"f") and the
 *   master's GC pauses ("gc start ms kind"): where a latency tail comes from.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runScale, serveMode, type RunFigures } from "./lib/scale-run.js";

const root = resolve(import.meta.dirname, "../..");
const script = join(root, "dist/bench/scale.js");
const presolve = resolve(root, "../shared/data/pkgsrc-2026/presolve.zst");

const { values } = parseArgs({
  options: {
    serve: { type: "string" },
    run: { type: "boolean", default: false },
    hosts: { type: "string", default: "100,500,1000" },
    "task-ms": { type: "string", default: "0" },
    "paced-hosts": { type: "string", default: "100,500" },
    "paced-rate": { type: "string", default: "1000" },
    history: { type: "boolean", default: false },
    rt: { type: "string", default: "yes" },
    "in-process": { type: "string", default: "500" },
    timeout: { type: "string", default: "360" },
  },
});

interface Config {
  readonly hosts: number;
  readonly taskMs: number;
  readonly inProcess: boolean;
  readonly history: boolean;
  /** Under SCHED_FIFO: a CPU whenever ready, whatever else the machine runs. */
  readonly rt: boolean;
}

/** Runs one configuration in a fresh process; a string says why there are no figures. */
function child(c: Config, timeoutMs: number): Promise<RunFigures | string> {
  const args = [script, "--run", "--hosts", String(c.hosts), "--task-ms", String(c.taskMs)];
  if (c.inProcess) args.push("--in-process", "yes");
  if (c.history) args.push("--history");
  const argv = c.rt ? ["chrt", "-f", "1", process.execPath, ...args] : [process.execPath, ...args];
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  return new Promise((res) => {
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code === 0 && line.startsWith("{")) res(JSON.parse(line) as RunFigures);
      else res(signal === "SIGKILL" ? "out of time" : `failed (${code ?? signal ?? "?"})`);
    });
  });
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

function row(c: Config, r: RunFigures | string): string {
  const label = `${c.hosts}${c.inProcess ? " in-process" : ""}${c.rt ? ", SCHED_FIFO" : ""}`;
  const task = `${c.taskMs === 0 ? "0" : `${c.taskMs} ms ±50%`}, ${c.history ? "history" : "cold"}`;
  const cells =
    typeof r === "string"
      ? [r, "", "", "", "", "", "", "", "", ""]
      : [
          `${f1(r.connectS)} s`,
          `${f1(r.wallS)} s`,
          r.tasksPerS.toFixed(0),
          `${f2(r.dispatch.p50)} / ${f2(r.dispatch.p99)} / ${r.dispatch.max.toFixed(0)}`,
          f2(r.handled.p99),
          `${f2(r.assign.p50)} / ${f2(r.assign.p99)}`,
          `${r.loopLag.p99.toFixed(0)} / ${r.loopLag.max.toFixed(0)}`,
          `${f2(r.cpuCores)} (${f2(r.cpuMsPerTask)} ms/task)${
            r.hostsCpuCores === null ? "" : `; hosts ${f2(r.hostsCpuCores)}`
          }`,
          `${r.rssMB.toFixed(0)} MB (${r.maxRssMB.toFixed(0)})`,
          `${f1(r.load[0])} → ${f1(r.load[1])}${
            r.waitShare === null ? "" : `, ${(r.waitShare * 100).toFixed(0)}%`
          }`,
        ];
  return `| ${[label, task, ...cells].join(" | ")} |`;
}

const LEGEND = `
dispatch latency: for each task, from the later of (the host's \`done\` of the task's last
  dependency, the host's \`done\` of its own previous task — i.e. the moment the task could
  start there) to its \`run\` request being read off the host's socket; both instants are
  CLOCK_MONOTONIC read by the host, so it covers host → master bytes, parsing, HostPool,
  scheduler, and master → host bytes. The one hosts' process reads every socket that has
  bytes before it parses and answers any (separate machines would not wait for each
  other); "to the handler" ends instead when the fake host's protocol code has parsed the
  request, which adds that process's own queue of hosts served one after another.
history / cold: the scheduler is given every task's duration (as from an earlier build),
  or starts with none and learns them (policy herd refits its model as tasks finish: a
  few ms each on the full tree, run after the round's tasks are started).
assign→host: from the scheduler's decision (nextAssignments returned it) to the \`run\`
  being read off the host's socket.
loop lag: the master's event-loop delay while dispatching (perf_hooks, p99 / max).
master CPU: process.cpuUsage over the dispatch phase / its wall time (cores); hosts: the
  fake hosts' own process, from /proc. RSS: the master's peak while dispatching (in
  brackets: its peak over the whole run, reading and resolving the tree included).
SCHED_FIFO: master and fake hosts run at real-time priority (chrt -f 1, as root; --rt no
  to leave it out), so they get a CPU whenever they are ready, as on a master machine of
  their own; only runs that leave the master mostly idle, never the saturating ones.
load: the 1-minute load average before → after; then the share of the dispatch wall time
  the master's main thread was ready to run but waiting for a CPU (/proc schedstat): time
  lost to other work on the machine, which inflates every latency above.`;

function chrtWorks(): boolean {
  return spawnSync("chrt", ["-f", "1", "true"]).status === 0;
}

async function main(): Promise<void> {
  if (values.serve !== undefined) {
    await serveMode(values.serve, Number(values["task-ms"]));
    return;
  }
  const list = (s: string): number[] => (s === "" ? [] : s.split(",").map((x) => Number(x.trim())));
  if (values.run) {
    const r = await runScale({
      presolve,
      hosts: list(values.hosts)[0]!,
      taskMs: Number(values["task-ms"]),
      inProcess: values["in-process"] === "yes",
      history: values.history,
      script,
    });
    process.stdout.write(JSON.stringify(r) + "\n");
    return;
  }
  if (!existsSync(presolve)) {
    console.error(`no ${presolve}: the scale benchmark needs the real full-tree scan`);
    process.exit(1);
  }
  const deadline = Date.now() + Number(values.timeout) * 1000;
  const zero = Number(values["task-ms"]);
  const rate = Number(values["paced-rate"]);
  // Real-time priority only where the master is not saturated: a saturated
  // SCHED_FIFO process would take whole cores from everything else.
  const rt = values.rt === "yes" && process.getuid?.() === 0 && chrtWorks();
  const configs: Config[] = [
    ...list(values.hosts).map((hosts) => ({
      hosts,
      taskMs: zero,
      inProcess: false,
      history: false,
      rt: false,
    })),
    ...list(values["in-process"]).map((hosts) => ({
      hosts,
      taskMs: zero,
      inProcess: true,
      history: false,
      rt: false,
    })),
    // The same offered load (rate tasks/s) whatever the number of hosts.
    ...list(values["paced-hosts"]).flatMap((hosts) => {
      const taskMs = Math.round((hosts / rate) * 1000);
      const paced = { hosts, taskMs, inProcess: false };
      return [
        { ...paced, history: true, rt },
        ...(hosts === 500 ? [{ ...paced, history: false, rt }] : []),
        ...(hosts === 500 && rt ? [{ ...paced, history: true, rt: false }] : []),
      ];
    }),
  ];
  console.log(
    `${cpus().length} cores, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} at the start (other work shares the machine)`,
  );
  console.log("");
  console.log(
    "| hosts | task | connect | wall | tasks/s | dispatch latency p50 / p99 / max (ms) | to the handler p99 (ms) | assign→host p50 / p99 (ms) | loop lag p99 / max (ms) | CPU, cores | master RSS (whole run) | load; master waiting for a CPU |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  const results: [Config, RunFigures | string][] = [];
  for (const c of configs) {
    const left = deadline - Date.now();
    const r = left < 20_000 ? "skipped: out of time" : await child(c, left);
    results.push([c, r]);
    console.log(row(c, r));
  }
  console.log(LEGEND);
  console.log("");
  for (const [c, r] of results) {
    if (c.hosts !== 500 || c.inProcess || typeof r === "string") continue;
    const prio = c.rt ? ", SCHED_FIFO" : "";
    const mark = (okay: boolean): string => (okay ? "met" : "NOT met");
    const kind = `${c.taskMs === 0 ? "zero-time tasks" : `tasks of ${c.taskMs} ms ±50%`}, ${
      c.history ? "durations known" : "cold scheduler"
    }${prio}`;
    console.log(`500 hosts, ${r.tasks} ${kind}:`);
    console.log(
      `  dispatch latency p99  ${f2(r.dispatch.p99).padStart(8)} ms     goal < 20 ms     ${mark(r.dispatch.p99 < 20)}`,
    );
    console.log(
      `  master CPU            ${f2(r.cpuCores).padStart(8)} cores  goal < 0.5 core  ${mark(r.cpuCores < 0.5)}`,
    );
    console.log(
      `  master RSS            ${r.maxRssMB.toFixed(0).padStart(8)} MB     goal < 1 GB      ${mark(r.maxRssMB < 1024)}`,
    );
  }
}

await main();
