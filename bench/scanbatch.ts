/**
 * The scan on a slow host, one directory per task against several
 * (`herd scan --batch`): per-directory time on one local host in a CPU cage
 * at FRACTION of a core (default 1/20), against `bmake pbulk-index` run in a
 * loop in the same cage, and whether the records are byte for byte the same.
 *
 * The host's copy of the fixture tree is synced by a first scan; each timed
 * scan starts from an empty database. Rounds alternate the two modes, so load
 * from elsewhere falls on both. Needs root (cgroups).
 *
 * Usage: npx tsc -p . && node dist/bench/scanbatch.js [--fraction 0.05] [--rounds 2] [--batch 8]
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { listPackageDirs } from "../src/bulk/scan-step.js";
import { cageUnavailable, cpuCage } from "./lib/slowhost.js";
import { FIXTURE_TOOLS, sandbox, type Event } from "../tests/lib/fixture.js";
import { CLI } from "../tests/lib/paths.js";
import { flag, median } from "./lib/measure.js";

const FRACTION = flag("fraction", 0.05);
const ROUNDS = flag("rounds", 2);
const BATCH = flag("batch", 8);

const why = cageUnavailable();
if (why !== null) {
  console.log(`bench/scanbatch: cannot run here: ${why}`);
  process.exit(0);
}

const box = sandbox("scanbatch");
const cage = cpuCage(`herd-scanbatch-${String(process.pid)}`, FRACTION, join(box.dir, "cage"));
try {
  const hosts = join(box.dir, "hosts.txt");
  writeFileSync(hosts, `slow local ${join(box.dir, "host")} shell=${cage.shell}\n`);
  const work = join(box.dir, "work");
  /** One `herd scan`: seconds from the host's first task to the last record, and the output. */
  const scan = (batch: number): { secs: number; out: Buffer } => {
    for (const f of ["herd.db", "herd.db-wal", "herd.db-shm"])
      rmSync(join(work, f), { force: true });
    const out = join(box.dir, `scan-${String(batch)}.txt`);
    const s = spawnSync(
      process.execPath,
      [
        CLI,
        "scan",
        "--tree",
        box.tree,
        "--hosts",
        hosts,
        "--work",
        work,
        "--batch",
        String(batch),
        "-o",
        out,
        "--json",
      ],
      { encoding: "utf8" },
    );
    // The fixture tree has a broken Makefile on purpose: exit status 1.
    if (s.status !== 0 && s.status !== 1) throw new Error(`herd scan failed: ${s.stderr}`);
    const ev = s.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Event);
    const busy = ev.find((e) => e.type === "host" && String(e.state).startsWith("busy"));
    const last = ev.filter((e) => e.type === "scan-progress").at(-1);
    if (busy === undefined || last === undefined) throw new Error(`no timings: ${s.stderr}`);
    return {
      secs: (Date.parse(last.time as string) - Date.parse(busy.time as string)) / 1000,
      out: readFileSync(out),
    };
  };
  const dirs = listPackageDirs(box.tree);
  const loop = (): number => {
    const t0 = Date.now();
    const r = spawnSync(
      cage.shell,
      ["-c", 'for d; do (cd "$d" && bmake pbulk-index >/dev/null 2>&1); done', "loop", ...dirs],
      {
        cwd: box.tree,
        env: { ...process.env, PATH: `${FIXTURE_TOOLS}:${process.env.PATH ?? ""}` },
      },
    );
    if (r.status !== 0) throw new Error("the pbulk-index loop failed");
    return (Date.now() - t0) / 1000;
  };

  scan(1); // the host's copy, synced once
  const one: number[] = [];
  const many: number[] = [];
  const loops: number[] = [];
  let same = true;
  for (let i = 0; i < ROUNDS; i++) {
    const a = scan(1);
    const b = scan(BATCH);
    loops.push(loop());
    one.push(a.secs);
    many.push(b.secs);
    if (!a.out.equals(b.out)) same = false;
  }
  const per = (s: number): string => (s / dirs.length).toFixed(2);
  console.log(
    `bench/scanbatch: fixture tree, ${String(dirs.length)} directories, one local host at ${String(FRACTION)} of a core; median of ${String(ROUNDS)} rounds; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log("| scan | total (s) | per directory (s) | herd's cost per directory (s) |");
  console.log("|---|---|---|---|");
  const l = median(loops);
  console.log(`| bmake pbulk-index in a loop on the host | ${l.toFixed(2)} | ${per(l)} | - |`);
  for (const [name, xs] of [
    ["herd scan, one directory a task", one],
    [`herd scan --batch ${String(BATCH)}`, many],
  ] as const) {
    const m = median(xs);
    console.log(`| ${name} | ${m.toFixed(2)} | ${per(m)} | ${per(m - l)} |`);
  }
  console.log(`records byte for byte the same in every round: ${same ? "yes" : "NO"}`);
} finally {
  cage.stop();
  rmSync(box.dir, { recursive: true, force: true });
}
