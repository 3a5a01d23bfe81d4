/**
 * The whole master at full scale: `herd build` of the full 29,022-package
 * 2026 scan (or --dirs N directories and what they depend on) on --hosts
 * simulated attach hosts, stage times from the real history times --scale,
 * --fail-rate of the packages failing. Prints the master's CPU and peak RSS,
 * the store's size and events written per second, the farm's dispatch
 * latency, the report's time and size, and with --kill-at F the time to
 * resume after a SIGKILL once F of the build settled; checks the outcome
 * against `herd resolve`'s classification and the injected failures.
 *
 * Usage: node dist/bench/fullscale.js [--hosts 100,500] [--dirs 0] [--scale 0.002]
 *          [--fail-rate 0.05] [--kill-at 0.5] [--stop-after N] [--timeout 1800] [--work DIR]
 *          [--farm-nice 0]
 *
 * --stop-after N stops the run once N packages have started (the dispatch
 * latency over those; the outcome is then partial and not checked). With
 * HERD_TRACE=FILE the master writes its latency trace there and the farm its
 * view beside it (FILE.farm.json): bench/latency.ts splits the latency.
 * --farm-nice N runs the farm at that niceness (nice(1), 0-19; 0, the
 * default, is the master's own): the farm stands for remote machines, and on
 * this machine it otherwise competes with the master for a CPU (a message
 * that wakes it can preempt the master).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fullRun } from "./lib/fullscale-run.js";
import { expectedOutcomes } from "./lib/simpkgsrc.js";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "100,500" },
    dirs: { type: "string", default: "0" },
    scale: { type: "string", default: "0.002" },
    "fail-rate": { type: "string", default: "0.05" },
    seed: { type: "string", default: "1" },
    "kill-at": { type: "string" },
    "stop-after": { type: "string" },
    timeout: { type: "string", default: "1800" },
    work: { type: "string", default: join(tmpdir(), "herd-fullscale") },
    "farm-nice": { type: "string", default: "0" },
  },
});
const farmNice = Number(values["farm-nice"]);
if (!Number.isInteger(farmNice) || farmNice < 0 || farmNice > 19) {
  process.stderr.write(
    `fullscale: --farm-nice ${values["farm-nice"]}: give a niceness from 0 (the master's) to 19\n`,
  );
  process.exit(2);
}
const HERD = resolve(import.meta.dirname, "../src/cli/main.js");
const f1 = (x: number | null | undefined): string => (x == null ? "-" : x.toFixed(1));

for (const hosts of values.hosts.split(",").map(Number)) {
  const work = join(values.work, String(hosts));
  const r = await fullRun({
    work,
    hosts,
    dirs: Number(values.dirs),
    scale: Number(values.scale),
    failRate: Number(values["fail-rate"]),
    seed: values.seed,
    ...(values["kill-at"] === undefined ? {} : { killAt: Number(values["kill-at"]) }),
    ...(values["stop-after"] === undefined
      ? {}
      : { stopAfterStarts: Number(values["stop-after"]) }),
    timeoutSeconds: Number(values.timeout),
    farmNice,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  execFileSync(process.execPath, [HERD, "resolve", "-o", join(work, "presolve"), r.scanFile], {
    stdio: "ignore",
  });
  const want = expectedOutcomes(
    readFileSync(join(work, "presolve"), "latin1"),
    values.seed,
    Number(values["fail-rate"]),
  );
  const builtOk =
    [...want.built].every((n) => r.states.get(n) === "built") &&
    (r.counts.built ?? 0) === want.built.size;
  const failedOk =
    [...want.failed].every(([n, st]) => r.failedAt.get(n) === st) &&
    r.failedAt.size === want.failed.size &&
    [...want.indirect].every((n) => r.states.get(n) === "indirect-failed");
  const wrong = [
    ...[...want.built]
      .filter((n) => r.states.get(n) !== "built")
      .map((n) => `${n}: ${r.states.get(n)} (expected built)`),
    ...[...want.failed]
      .filter(([n, st]) => r.failedAt.get(n) !== st)
      .map(
        ([n, st]) =>
          `${n}: ${r.states.get(n)} ${r.failedAt.get(n) ?? ""} (expected failed at ${st})`,
      ),
    ...[...want.indirect]
      .filter((n) => r.states.get(n) !== "indirect-failed")
      .map((n) => `${n}: ${r.states.get(n)} (expected indirect-failed)`),
  ];
  const stopped = r.runs.some((x) => x.stopped);
  if (!stopped) for (const w of wrong.slice(0, 10)) process.stderr.write(`mismatch: ${w}\n`);
  const first = r.runs[0]!;
  const last = r.runs.at(-1)!;
  const cpu = r.runs.reduce((a, x) => a + x.cpuS, 0);
  const buildS = r.runs.reduce((a, x) => a + (x.buildS ?? 0), 0);
  const twice = r.runs.length > 1 ? r.runs[1]!.started.filter((n) => first.built.includes(n)) : [];
  process.stdout.write(
    [
      `## ${hosts} hosts, ${r.packages} packages (${r.dirs} directories), scale ${values.scale}${farmNice === 0 ? "" : `, the farm at nice ${farmNice}`}`,
      stopped
        ? `outcome: partial, the run was stopped after ${first.started.length} starts`
        : `outcome: ${JSON.stringify(r.counts)}; expected built ${want.built.size}, failed ${want.failed.size}, indirect-failed ${want.indirect.size}: ${builtOk && failedOk ? "all match" : "MISMATCH"}`,
      `master: ${f1(cpu)} CPU s over ${f1(r.runs.reduce((a, x) => a + x.wallS, 0))} s wall (${(cpu / r.runs.reduce((a, x) => a + x.wallS, 0)).toFixed(2)} cores); during the build ${f1(buildS)} s (${f1(first.buildCpuS)} CPU s: ${((first.buildCpuS ?? 0) / (first.buildS ?? 1)).toFixed(2)} cores); peak RSS ${r.runs.map((x) => x.peakRssMB.toFixed(0)).join(" / ")} MB`,
      `scan+resolve+plan: ${f1(first.toBuildS)} s; report phase: ${f1(last.reportS)} s (${split(last.reportWallMs, r.indexedMs, r.reportWrittenMs)}), report.html ${(r.reportBytes / 1e6).toFixed(1)} MB`,
      `repository index: ${last.repository === null ? "no word" : `${last.repository.packages} packages, ${last.repository.read} package files read at the report, ${r.runs.map((x) => x.repository?.indexedInBuild ?? "?").join(" / ")} indexed during the build`}`,
      `store: ${(r.storeBytes / 1e6).toFixed(0)} MB, ${r.events} events (${(r.events / (buildS || 1)).toFixed(0)} per second of build)`,
      `dispatch latency (farm): p50 ${f1(r.farm?.dispatchMs.p50)} ms, p99 ${f1(r.farm?.dispatchMs.p99)} ms, max ${f1(r.farm?.dispatchMs.max)} ms over ${r.farm?.dispatchMs.n ?? 0} starts`,
      ...(r.runs.length > 1
        ? [
            `resume after SIGKILL: ${f1(r.runs[1]!.toBuildS)} s to the build phase; ${twice.length} packages built before the kill started again`,
          ]
        : []),
      "",
    ].join("\n"),
  );
}

/** The report phase's parts: the repository's index, then the report itself. */
function split(start: number | null, indexed: number | null, written: number | null): string {
  if (start === null || indexed === null || written === null) return "parts unknown";
  return `repository index ${((indexed - start) / 1000).toFixed(1)} s, report ${((written - indexed) / 1000).toFixed(1)} s`;
}
