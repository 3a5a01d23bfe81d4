/**
 * `herd build`: sync → scan → resolve → plan → build → report, over any mix
 * of hosts. State goes to the work directory's store as it happens, so a
 * master killed at any point resumes where it stopped: built packages are
 * kept (if their files are intact), packages that were building start over.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { carryFailures } from "../core/carry.js";
import { installOrder, restrictedFiles } from "../core/install-order.js";
import { planBuild, type PreviousPackage } from "../core/plan.js";
import type { ScanResult, ScanStepOptions } from "./scan-step.js";
import { printResolution, resolveRecords } from "../core/resolve.js";
import { UserError } from "../cli/errors.js";
import { writeChunks } from "../cli/output.js";
import type { Config } from "../cli/config.js";
import { forwardHostEvents } from "../events/hosts.js";
import type { BuildEvent, EventBus } from "../events/types.js";
import type { HostConfig, HostPool } from "../hosts/pool.js";
import { packageRow } from "../store/store.js";
import type { PackageRow } from "../store/types.js";
import { EventWriter } from "../store/writer.js";
import { initialState, type PackageState } from "../core/pkgstate.js";
import { DEPENDS_FILE, parseDepends } from "../report/critical.js";
import { indexRepository, recordsVia } from "../report/repository.js";
import { IndexWriter } from "../report/index-writer.js";
import { DistCache } from "./distfiles.js";
import { prefetchEntry, prefetchList, ScanFetcher } from "./prefetch.js";
import { buildLoop, type LoopPackage } from "./loop.js";
import type { BuildControl } from "./control.js";
import { publish } from "./publish.js";
import { multiVersionArgs } from "../core/targets.js";
import { openWorkdir, type Workdir } from "./workdir.js";
import { createHash } from "node:crypto";

export interface BuildRequest {
  readonly tree: string;
  readonly treeId: string;
  readonly work: string;
  readonly config: Config;
  readonly pool: HostPool;
  readonly hosts: readonly HostConfig[];
  readonly bus: EventBus;
  /** Scans the tree on the pool's hosts (only these PKGPATHs when given). */
  /** Runs the scan; `onQuery` (distfiles: "master") hears each directory's distfile query as it comes. */
  readonly scan: (wd: Workdir, onQuery?: ScanStepOptions["onQuery"]) => Promise<ScanResult>;
  readonly stop?: Promise<void>;
  /** Starts serving the control socket (and a hosts file) once the work directory is locked. */
  readonly serve?: (wd: Workdir) => Promise<{ close(): Promise<void> }>;
  /** Operator controls (retry a failed package). */
  readonly control?: BuildControl;
  /** Writes the report directory (of a build that ended at `finishedMs`, null: stopped); returns its main file. */
  readonly report: (wd: Workdir, buildId: number, finishedMs: number | null) => Promise<string>;
}

export interface BuildSummary {
  readonly build: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly report: string;
  readonly packages: string;
  readonly stopped: boolean;
}

/** Runs (or resumes) a bulk build. */
export async function runBuild(req: BuildRequest): Promise<BuildSummary> {
  const wd = openWorkdir(req.work);
  try {
    return await build(req, wd);
  } finally {
    wd.release();
  }
}

async function build(req: BuildRequest, wd: Workdir): Promise<BuildSummary> {
  const { store } = wd;
  const last = store.lastBuild();
  const resumed =
    last !== undefined &&
    last.status === "running" &&
    last.tree === req.tree &&
    last.treeId === req.treeId;
  const buildId = resumed ? last.id : store.startBuild(req.tree, req.treeId, Date.now());
  const emit = (e: BuildEvent): void => {
    req.bus.emit(e);
  };
  let hostEvents = (): void => undefined;
  let served: { close(): Promise<void> } | undefined;
  let distCache: DistCache | undefined;
  let indexer: IndexWriter | undefined;
  // Every event, progress included (`herd serve` rebuilds the dashboard and its ETA from them),
  // and every package's state: the store hears each event first, through its one writer.
  // Events come from host callbacks too: a failed write (full disk) is kept and thrown
  // between phases, and before a built package enters the repository.
  const writer = new EventWriter(store, buildId);
  writer.attach(req.bus);
  const checkPersisted = (): void => {
    writer.flush();
  };
  try {
    emit({
      type: "build-start",
      build: buildId,
      tree: req.tree,
      treeId: req.treeId,
      resumed,
      targets: req.config.targets,
    });
    hostEvents = forwardHostEvents(req.pool, req.bus, { busy: false });
    for (const h of req.hosts) {
      const r = req.pool.add(h);
      if (!r.ok) throw new UserError("hosts", r.error.message, "host names must be unique");
    }
    served = await req.serve?.(wd);
    const buildDir = join(wd.path, "builds", String(buildId));
    await mkdir(buildDir, { recursive: true });

    // With distfiles: "master" the master's cache starts fetching during the scan.
    distCache =
      req.config.distfiles === "master"
        ? new DistCache({
            dir: req.config.distdir === "" ? wd.paths.distfiles : req.config.distdir,
            tree: req.tree,
            jobs: req.config.fetchJobs,
            onNote: (message) => {
              emit({ type: "warning", message });
            },
          })
        : undefined;
    const early =
      distCache === undefined ? undefined : new ScanFetcher(distCache, req.config.fetchJobs);
    // Scan, resolve and plan in a function of their own: the records (a full tree's scan is
    // 160 MB) and the resolution die with it instead of living in this frame through the build.
    const prep = await (async () => {
      emit({ type: "phase", phase: "scan" });
      const scanned = await req.scan(
        wd,
        early === undefined
          ? undefined
          : (_pkgpath, query, recs) => {
              // Its own scan says it can be built: fetch now, before the plan is known.
              if (
                recs.some(
                  (r) =>
                    (r.get("PKG_SKIP_REASON") ?? "") === "" &&
                    (r.get("PKG_FAIL_REASON") ?? "") === "",
                )
              ) {
                const e = prefetchEntry(query, req.tree);
                if (e !== null) early.add(e);
              }
            },
      );
      early?.stop();
      const records = scanned.records;
      checkPersisted();
      emit({ type: "phase", phase: "resolve" });
      const res = resolveRecords(records);
      if (res.errors.length > 0) {
        const e = res.errors[0]!;
        throw new UserError(
          "resolve",
          `scan of ${records[e.pkg]?.get("PKG_LOCATION") ?? "?"}: ${e.message}`,
          e.hint,
        );
      }
      for (const u of res.unresolved)
        emit({
          type: "warning",
          message: `No match found for dependency ${u.pattern} of package ${records[u.pkg]!.pkgname}`,
        });
      // The report's critical path needs only each package's DEPENDS: kept apart, it reads
      // a few MB at the end of the build instead of the 160 MB of a full tree's presolve.
      const depends: Buffer[] = [];
      await writeChunks(
        join(buildDir, "presolve"),
        tee(printResolution(res), (chunk) => {
          for (const [name, deps] of parseDepends(chunk))
            depends.push(Buffer.from(`PKGNAME=${name}\nDEPENDS=${deps.join(" ")}\n`));
        }),
      );
      await writeChunks(join(buildDir, DEPENDS_FILE), depends);

      emit({ type: "phase", phase: "plan" });
      // A build stopped before its plan was stored (during the scan) plans afresh when resumed.
      const ownRows = resumed ? store.packages(buildId) : [];
      const planned = ownRows.length > 0;
      const previous = planned
        ? previousOf(ownRows, wd.paths.all, buildId)
        : previousBuild(wd, buildId);
      const plan = planBuild(res, {
        previous,
        excluded: new Set(req.config.excluded),
        sourceDigest: (pkgpath) => store.scanDigest(pkgpath) ?? "",
      });
      emit({ type: "plan", counts: plan.counts, packages: plan.packages.length });

      const rows = new Map(ownRows.map((r) => [r.pkgname, r]));
      const inRepo = (name: string): boolean => existsSync(join(wd.paths.all, `${name}.tgz`));
      // Recorded built, but the master was killed before the file went in: built again.
      const missing = new Set(
        ownRows.filter((r) => r.state === "built" && !inRepo(r.pkgname)).map((r) => r.pkgname),
      );
      // Every state change of a package from here on is an event, which the writer moves
      // through the package's machine (src/core/pkgstate.ts) as it records it.
      writer.track(
        planned
          ? ownRows.map((r): [string, PackageState] => [
              r.pkgname,
              r.state === "building" || missing.has(r.pkgname) ? "pending" : r.state,
            ])
          : plan.packages.map((p): [string, PackageState] => [p.pkgname, initialState(p.state)]),
      );
      // The rows written directly come after what the stream told so far.
      checkPersisted();
      if (planned) {
        const back = store.requeueBuilding(buildId);
        if (back > 0)
          emit({
            type: "warning",
            message: `resuming build ${buildId}: ${back} packages that were building start over`,
          });
        for (const name of missing)
          store.setPackage(buildId, name, {
            state: "pending",
            host: null,
            startedMs: null,
            finishedMs: null,
            sha256: null,
            size: null,
          });
        if (missing.size > 0)
          emit({
            type: "warning",
            message: `resuming build ${buildId}: ${missing.size} packages recorded built have no file in the repository and are built again`,
          });
      } else {
        store.insertPackages(
          buildId,
          plan.packages.map((p) => newRow(p)),
        );
      }

      // What remains to build: planned "build", minus what a resumed build already settled.
      const settled = (name: string): boolean => {
        const r = rows.get(name);
        if (r === undefined) return false;
        if (r.state === "built") return !missing.has(name);
        return r.state === "failed" || r.state === "indirect-failed";
      };
      // What the plan's "build" packages become: carried-over failures block their dependents.
      const carry = carryFailures({
        order: plan.toBuild,
        depends: res.depends,
        earlier: (i) => {
          const r = rows.get(plan.packages[i]!.pkgname);
          return r === undefined ? undefined : { state: r.state, culprit: r.culprit };
        },
        makeArgs: (i) => multiVersionArgs(records[i]!.get("MULTI_VERSION")),
        name: (i) => plan.packages[i]!.pkgname,
      });
      for (const [i, culprit] of carry.blocked)
        emit({ type: "indirect-failed", pkgname: plan.packages[i]!.pkgname, culprit });
      for (const i of carry.refused) {
        // Never passed to make: this package fails, the build goes on.
        const p = plan.packages[i]!;
        const reason = `unsafe MULTI_VERSION "${records[i]!.get("MULTI_VERSION") ?? ""}" (it holds VAR=value words only); nothing of it was run`;
        emit({ type: "warning", message: `${p.pkgname}: ${reason}` });
        emit({
          type: "package-end",
          pkgname: p.pkgname,
          pkgpath: p.pkgpath,
          host: "master",
          result: "failed",
          stage: "MULTI_VERSION",
          reason,
          wallMs: 0,
          refused: true,
        });
      }
      const toBuild = carry.build
        .filter(([i]) => !settled(plan.packages[i]!.pkgname))
        .map(([i]) => i);
      const makeArgsOf = new Map(carry.build);
      const loopIndex = new Map(toBuild.map((i, k) => [i, k]));
      const history = store.history();
      const installs = installOrder(res);
      const loopPackages: LoopPackage[] = toBuild.map((i) => {
        const rec = records[i]!;
        const pkgpath = rec.get("PKG_LOCATION") ?? "";
        const makeArgs = makeArgsOf.get(i) ?? [];
        const weight = Number(rec.get("PBULK_WEIGHT"));
        return {
          pkgname: rec.pkgname,
          pkgpath,
          makeArgs,
          installs: installs[i]!.map((d) => records[d]!.pkgname),
          // Dependencies built earlier (or up to date) are not in the list: they are done.
          deps: res.depends[i]!.map((d) => loopIndex.get(d)).filter(
            (d): d is number => d !== undefined,
          ),
          expectedSeconds: history.get(pkgpath),
          weight: Number.isFinite(weight) && weight > 0 ? weight : undefined,
        };
      });

      return {
        loopPackages,
        upToDate: plan.counts["up-to-date"],
        prefetch:
          distCache === undefined
            ? undefined
            : prefetchList(loopPackages, scanned.distfiles, req.tree),
        restricted: req.config.publish === undefined ? new Set<string>() : restrictedFiles(records),
      };
    })();
    const { loopPackages, upToDate } = prep;
    emit({
      type: "phase",
      phase: "build",
      detail:
        loopPackages.length === 0
          ? `nothing to build (${upToDate} packages up to date)`
          : `${loopPackages.length} packages to build, ${upToDate} up to date`,
    });
    const t0 = performance.now();
    // Each built package is indexed as it enters the repository, so the report phase reads none.
    const indexCache = join(wd.path, "repository-index.json");
    indexer = new IndexWriter({
      packagesDir: wd.paths.packages,
      cache: indexCache,
      via: recordsVia(req.config.pkgInfo),
    });
    const fed = indexer;
    const result = await buildLoop({
      pool: req.pool,
      ...(distCache === undefined || prep.prefetch === undefined
        ? {}
        : {
            distCache,
            prefetch: prep.prefetch,
            prefetchWorkers: 2 * req.config.fetchJobs,
          }),
      packages: loopPackages,
      config: req.config,
      policy: req.config.policy,
      repo: wd.paths.all,
      sentDir: wd.paths.sent,
      figuresDir: wd.paths.figures,
      logDir: (name) => join(wd.paths.logs, name),
      bus: req.bus,
      now: () => (performance.now() - t0) / 1000,
      ...(req.stop === undefined ? {} : { stop: req.stop }),
      ...(req.control === undefined ? {} : { control: req.control }),
      durable: checkPersisted,
      committed: (file) => {
        fed.add(file);
      },
    });

    checkPersisted();
    emit({ type: "phase", phase: "report" });
    const written = await fed.close();
    for (const e of written.errors) emit({ type: "warning", message: `repository index: ${e}` });
    const repo = await indexRepository(wd.paths.packages, {
      pkgInfo: req.config.pkgInfo,
      cache: indexCache,
    });
    for (const p of repo.problems) emit({ type: "warning", message: `repository: ${p}` });
    // The report first: a master killed in between resumes this build (all
    // settled), writes the report again and only then calls it done.
    const finishedMs = result.stopped ? null : Date.now();
    checkPersisted();
    const report = await req.report(wd, buildId, finishedMs);
    if (finishedMs !== null) store.finishBuild(buildId, finishedMs, "done");
    if (req.config.publish !== undefined && !result.stopped) {
      emit({ type: "phase", phase: "publish", detail: req.config.publish.destination });
      const pub = await publish({
        destination: req.config.publish.destination,
        retries: req.config.publish.retries,
        exclude: prep.restricted,
        packagesDir: wd.paths.packages,
        reportDir: wd.paths.report,
        scratch: buildDir,
        onAttempt: (n, error) => {
          emit({ type: "warning", message: `upload attempt ${n} failed: ${error}` });
        },
      });
      if (!pub.ok) {
        throw new UserError(
          "publish",
          `the build finished but uploading to ${req.config.publish.destination} failed after ${pub.attempts} attempts: ${pub.error}`,
          `the packages and the report are in ${wd.path}; fix the destination and run the same command again to upload`,
        );
      }
    }
    const counts: Record<string, number> = {};
    checkPersisted();
    for (const r of store.packages(buildId)) counts[r.state] = (counts[r.state] ?? 0) + 1;
    emit({
      type: "build-end",
      build: buildId,
      counts,
      report,
      packages: wd.paths.packages,
      repository: { packages: repo.packages, read: repo.read, indexedInBuild: written.indexed },
    });
    return { build: buildId, counts, report, packages: wd.paths.packages, stopped: result.stopped };
  } finally {
    distCache?.close();
    // A build that ended in an error keeps what was indexed so far.
    await indexer?.close();
    await served?.close();
    hostEvents();
    writer.close();
  }
}

function newRow(p: ReturnType<typeof planBuild>["packages"][number]): PackageRow {
  return packageRow(p.pkgname, p.pkgpath, initialState(p.state), {
    reason: p.reason,
    culprit: p.culprit,
    failedStage: p.failedStage,
    inputs: p.inputs,
    maintainer: p.maintainer,
    dependents: p.dependents,
  });
}

/**
 * What earlier builds made of each package: its latest outcome in any of
 * them (a build of a --pkgs list holds only its own packages, so the one
 * before it still speaks for the rest), packages still in the repository.
 */
function previousBuild(wd: Workdir, current: number): Map<string, PreviousPackage> {
  const out = new Map<string, PreviousPackage>();
  const builds = wd.store.builds().filter((b) => b.id !== current);
  for (const b of [...builds].reverse()) {
    const rows = wd.store.packages(b.id).filter((r) => !out.has(r.pkgname));
    for (const [name, p] of previousOf(rows, wd.paths.all, b.id)) out.set(name, p);
  }
  return out;
}

function previousOf(
  rows: readonly PackageRow[],
  all: string,
  build: number,
): Map<string, PreviousPackage> {
  const out = new Map<string, PreviousPackage>();
  for (const r of rows) {
    if (r.state === "failed" && r.failedStage !== null) {
      // A failure carried over keeps the build it first happened in.
      const since = /\(unchanged since build (\d+)\)$/.exec(r.reason);
      const reason = r.reason.replace(/ \(unchanged since build \d+\)$/, "");
      out.set(r.pkgname, {
        inputs: r.inputs,
        available: false,
        failed: { stage: r.failedStage, reason, build: since === null ? build : Number(since[1]) },
      });
    }
    if (r.state !== "built" && r.state !== "up-to-date") continue;
    out.set(r.pkgname, { inputs: r.inputs, available: existsSync(join(all, `${r.pkgname}.tgz`)) });
  }
  return out;
}

/** A short digest of a file's bytes. */
export async function fileDigest(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** The chunks as they are, each also handed to `see` on its way. */
function* tee<T>(chunks: Iterable<T>, see: (chunk: T) => void): Generator<T> {
  for (const c of chunks) {
    see(c);
    yield c;
  }
}
