/**
 * The store's write path at full size: a whole tree's worth of build events
 * (27,000 packages × 16 events: start, 14 stages, end) written into an
 * on-disk store, as one master writes them during a build:
 *
 * - per write: every row its own autocommit, the event row and then its
 *   package or stage row, as build.ts wrote them before the event writer;
 * - per event: through the event writer, one transaction per event;
 * - batched: through the event writer as a build runs it (batches of up to
 *   1000 events or 10 ms, a built package committed at once);
 * - batched, failures: the same with every package failing, so nothing
 *   forces a commit but the batch size.
 *
 * Prints events/s and the database's size. Run: npx tsc -p . && node
 * dist/bench/store.js [PACKAGES] [RUNS] [LABEL-PART]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { EventBus, type BuildEvent } from "../src/events/types.js";
import { packageRow, Store } from "../src/store/store.js";
import type { PackageRow } from "../src/store/types.js";
import { EventWriter, type WriterOptions } from "../src/store/writer.js";

const packages = Number(process.argv[2] ?? "27000");
const runs = Number(process.argv[3] ?? "1");
/** Only the modes whose label holds this. */
const only = process.argv[4] ?? "";
const STAGES =
  "SyncPkgsrcTree Init Clean Available Excluded Vars Depends fetch checksum extract patch configure build Package".split(
    " ",
  );

type Mode =
  | { readonly label: string; readonly kind: "direct" }
  | {
      readonly label: string;
      readonly kind: "writer";
      readonly options: WriterOptions;
      readonly fail: boolean;
    };

const MODES: readonly Mode[] = [
  { label: "per write (autocommit, as before)", kind: "direct" },
  {
    label: "per event (writer, 1 per commit)",
    kind: "writer",
    options: { maxEvents: 1 },
    fail: false,
  },
  { label: "batched (writer, as a build runs)", kind: "writer", options: {}, fail: false },
  { label: "batched, every package failing", kind: "writer", options: {}, fail: true },
];

function name(i: number): string {
  return `package${String(i).padStart(5, "0")}-1.${i % 10}`;
}

function planRow(i: number): PackageRow {
  return packageRow(name(i), `category${i % 100}/package${i}`, "pending", {
    inputs: "0123456789abcdef0123456789abcdef",
    maintainer: "pkgsrc-users@NetBSD.org",
    dependents: i % 50,
  });
}

/** One package's events, as the build loop emits them. */
function* packageEvents(i: number, t: number, fail: boolean): Generator<BuildEvent> {
  const pkgname = name(i);
  const pkgpath = `category${i % 100}/package${i}`;
  const host = `host${i % 64}`;
  yield { type: "package-start", pkgname, pkgpath, host, slot: 1, startedMs: t };
  for (const [k, stage] of STAGES.entries())
    yield {
      type: "stage",
      pkgname,
      host,
      stage,
      status: fail && k === STAGES.length - 2 ? 1 : 0,
      wallMs: 1000 + k,
      pkgpath,
      startedMs: t + k * 1000,
      log: `/var/herd/work/logs/${pkgname}/${stage}.log`,
    };
  yield fail
    ? {
        type: "package-end",
        pkgname,
        pkgpath,
        host,
        result: "failed",
        stage: "build",
        reason: "build failed (exit 1): foo.c:16:13: error: 'BAR' undeclared",
        wallMs: 14_000,
      }
    : {
        type: "package-end",
        pkgname,
        pkgpath,
        host,
        result: "built",
        wallMs: 14_000,
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        size: 123_456 + i,
      };
}

/** The rows build.ts wrote per event before the writer, each its own autocommit. */
function direct(store: Store, build: number, e: BuildEvent, t: number): void {
  store.appendEvent(build, t, e.type, e);
  if (e.type === "package-start")
    store.setPackage(build, e.pkgname, { state: "building", host: e.host, startedMs: t });
  else if (e.type === "stage")
    store.recordStage(build, {
      pkgname: e.pkgname,
      pkgpath: e.pkgpath ?? "",
      stage: e.stage,
      host: e.host,
      startedMs: e.startedMs ?? t,
      wallMs: e.wallMs,
      status: e.status,
      log: e.log ?? null,
    });
  else if (e.type === "package-end")
    store.setPackage(build, e.pkgname, {
      state: "built",
      host: e.host,
      finishedMs: t,
      sha256: e.sha256 ?? null,
      size: e.size ?? null,
    });
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function run(mode: Mode): { seconds: number; events: number; commits: number; bytes: number } {
  const dir = mkdtempSync(join(tmpdir(), "herd-bench-store-"));
  try {
    const db = join(dir, "herd.db");
    const store = new Store(db);
    const build = store.startBuild("/usr/pkgsrc", "uuid", Date.now());
    store.insertPackages(
      build,
      Array.from({ length: packages }, (_, i) => planRow(i)),
    );
    const bus = new EventBus();
    const writer = mode.kind === "writer" ? new EventWriter(store, build, mode.options) : null;
    if (writer !== null) {
      writer.attach(bus);
      writer.track(Array.from({ length: packages }, (_, i) => [name(i), "pending"]));
    }
    const fail = mode.kind === "writer" && mode.fail;
    let events = 0;
    const t0 = performance.now();
    for (let i = 0; i < packages; i++) {
      const t = Date.now();
      for (const e of packageEvents(i, t, fail)) {
        events++;
        if (writer === null) direct(store, build, e, t);
        else bus.emit(e, t);
      }
    }
    writer?.flush();
    const seconds = (performance.now() - t0) / 1000;
    const commits = writer?.commits ?? events * 2;
    writer?.close();
    store.close();
    // Closing checkpoints the WAL into the database (and removes it).
    const bytes = fileSize(db) + fileSize(`${db}-wal`);
    return { seconds, events, commits, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `${packages} packages × ${STAGES.length + 2} events into an on-disk store (WAL, synchronous=NORMAL), ${runs} run(s) each, best shown`,
);
for (const mode of MODES.filter((m) => m.label.includes(only))) {
  const results = Array.from({ length: runs }, () => run(mode));
  const best = results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  console.log(
    `${mode.label.padEnd(36)} ${(best.events / best.seconds).toFixed(0).padStart(8)} events/s  ${best.seconds.toFixed(2).padStart(7)} s  ${String(best.commits).padStart(7)} commits  store ${(best.bytes / 1024 / 1024).toFixed(1)} MB`,
  );
}
