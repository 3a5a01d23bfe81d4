/**
 * One package built on one host: the TARGETS in order, each stage's output
 * kept as its own log, timings recorded, dependency packages shipped to the
 * host, the binary package brought back and verified. Failures are values:
 * the stage that failed and why, or `lost` when the host went away (the
 * caller builds the package elsewhere; nothing it half-sent is kept).
 */
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { rm, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { RequestFailure, RunningTask, StepOutput, TaskResult } from "../hosts/connection.js";
import type { Result } from "../protocol/result.js";
import { getToFile } from "../hosts/get.js";
import type { Lease } from "../hosts/pool.js";
import { slotPaths } from "../hosts/sandbox.js";
import type { HostCache } from "./host-cache.js";
import { failureReason, vetPackage } from "../core/vet.js";
import { HOST } from "./layout.js";
import {
  initArgv,
  keptInitArgv,
  kitKey,
  kitOf,
  localbaseOf,
  pkgDbDirOf,
  sendFile,
  shipKit,
  type PrefixConfig,
  type SendFailure,
} from "./prefix.js";
import { HERD_STAGES, MASTER_STAGES } from "../core/targets.js";
import { followOutput, type LiveLog } from "./livelog.js";
import { DISTFILE_QUERY, parseDistfileQuery, type DistCache } from "./distfiles.js";
import { watchOutput, type Watchdog } from "./watchdog.js";
import { trace } from "./trace.js";
import type { StopSignal } from "./dispatch.js";

export interface JobConfig extends PrefixConfig {
  readonly make: string;
  readonly targets: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Prepended to PATH on the host. */
  readonly path: readonly string[];
  readonly makeJobs: number;
  /** Seconds a stage may run before it is killed (0: no limit). */
  readonly stageTimeout: number;
  /** Seconds a stage may go without printing anything before it is killed (0: never). */
  readonly watchdog: number;
  /** Seconds between two looks at a running stage's output, streamed to its log (0: at its end only). */
  readonly liveLog: number;
  /** Hosts see the master's package directory (NFS): nothing is transferred. */
  readonly sharedPackages: boolean;
  /**
   * Where distfiles come from: "master" (fetched and verified by the master,
   * shipped at `fetch`), "host" (each host fetches), "shared" (an NFS DISTDIR
   * the operator's mk.conf names; herd passes no DISTDIR).
   */
  readonly distfiles: "master" | "host" | "shared";
  /** Bytes a host's DISTDIR may hold (least recently used removed beyond; 0: no bound). */
  readonly hostDistdirBytes: number;
  /** Keep a slot's installed dependencies between builds, removing what the next does not need. */
  readonly keepDepends: boolean;
  /** Consecutive make stages run as one agent task (each its own make run, log and status). */
  readonly batchStages: boolean;
  /** Placement counts transfers and installs (the scheduler's transfer option). */
  readonly transferAware?: boolean;
}

/** A slot's prefix as its last build left it (keepDepends). */
export interface KeptPrefix {
  /** What a fresh Init leaves installed (a bootstrap kit's packages): never removed. */
  readonly base: ReadonlySet<string>;
}

export interface JobPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly makeArgs: readonly string[];
  /** Every package it needs installed, dependencies before dependents. */
  readonly installs: readonly string[];
}

export interface StageRecord {
  readonly stage: string;
  readonly startedMs: number;
  readonly wallMs: number;
  readonly status: number;
  readonly log: string | null;
}

export type JobOutcome =
  | {
      readonly ok: true;
      /** Where the package belongs in the repository. */
      readonly file: string;
      /**
       * Where it waits until the store has recorded it (`file` itself when the
       * host wrote into a shared repository): commitPackage moves it in, so no
       * file reaches the repository without its checksum stored.
       */
      readonly staged: string;
      readonly sha256: string;
      readonly size: number;
    }
  | { readonly ok: false; readonly lost: false; readonly stage: string; readonly reason: string }
  | { readonly ok: false; readonly lost: true; readonly reason: string };

export interface JobContext {
  /** The host's slot the package builds in. */
  readonly lease: Lease;
  readonly pkg: JobPackage;
  readonly config: JobConfig;
  /** The master's packages/All directory. */
  readonly repo: string;
  /** This package's log directory on the master. */
  readonly logDir: string;
  /** What the host's shared cache holds (kept across jobs, shared by its slots). */
  readonly hostCache: HostCache<SendFailure>;
  /** A dependency package (a file of the repository) was sent into the host's cache. */
  readonly onPackageSent?: (file: string) => void;
  readonly now: () => number;
  readonly onStage: (rec: StageRecord) => void;
  readonly onStageStart?: (stage: string) => void;
  /** Aborted when the scheduler stops this copy of the package. */
  readonly signal?: StopSignal;
  /** Distfiles in use by the jobs running on this host (not to be evicted); this job adds its own. */
  readonly distInUse?: Map<string, number>;
  /** The master's distfile cache (with `distfiles: "master"`). */
  readonly distCache?: DistCache;
  /** False when another copy already delivered the package: this one brings nothing back. */
  readonly shouldFetch?: () => boolean;
  /**
   * keepDepends: the host's slots whose prefix a build of this master left
   * behind, built successfully. A job takes its slot's entry at its start and
   * puts it back only when it built, so anything else (a failure, a lost
   * host, a killed copy) makes the next job on the slot start clean.
   */
  readonly kept?: Map<number, KeptPrefix>;
}

type StageResult =
  { ok: true; status: number; output: Buffer } | { ok: false; lost: true; reason: string };

/** Runs every target of one package on one host. */
export async function runJob(job: JobContext): Promise<JobOutcome> {
  // What the job holds until it ends (the distfiles it uses, kept from eviction).
  const ends: (() => void)[] = [];
  const slot = job.lease.slot;
  const keep: KeepState | undefined =
    job.config.keepDepends && job.kept !== undefined
      ? { prior: job.kept.get(slot), base: undefined }
      : undefined;
  job.kept?.delete(slot);
  const early = new EarlyRecords();
  // The log directory is made once the first task has gone out (at the end of the turn, for
  // `herd logs` to find), or at the first log written if that comes first.
  let dirMade = false;
  // Whether the directory was there before (a package tried again): its logs may be stale.
  let dirWasThere = true;
  const makeDir = (): void => {
    if (!dirMade) dirWasThere = mkdirSync(job.logDir, { recursive: true }) === undefined;
    dirMade = true;
  };
  const logPath = (stage: string): string => {
    makeDir();
    return join(job.logDir, `${stage}.log`);
  };
  early.hold(makeDir);
  try {
    const r = await runStages({
      ...job,
      // The records held back come first: a stage's event never precedes an earlier stage's.
      onStage: (rec) => {
        early.flush();
        job.onStage(rec);
      },
      atEnd: (f) => ends.push(f),
      keep,
      early,
      logPath,
      staleLogs: () => dirWasThere,
    });
    const base = keep?.base ?? keep?.prior?.base;
    if (r.ok && base !== undefined) job.kept?.set(slot, { base });
    return r;
  } finally {
    try {
      early.flush();
    } finally {
      for (const f of ends) f();
    }
  }
}

/**
 * The master's own stages before a package's first task (SyncPkgsrcTree and
 * the like: a log file and an event each), and its log directory, made once
 * that task is on its way, at the end of the turn: a dispatch round starts its packages one after
 * another in one turn, and each first task waited for every earlier
 * package's files and events (bench/latency.ts). Held records are written
 * before any later stage's, and at the job's end.
 */
class EarlyRecords {
  #held: (() => void)[] = [];
  #open = true;
  #timer: NodeJS.Immediate | undefined;
  // A write that failed at the end of a turn (a full disk), thrown to the job at its next flush.
  #failed: { readonly error: unknown } | undefined;

  /** Whether no task has gone out yet (records are still held). */
  get open(): boolean {
    return this.#open;
  }

  hold(f: () => void): void {
    this.#held.push(f);
  }

  /** The first task is going out: what is held is written at the end of this turn. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#held.length > 0)
      this.#timer = setImmediate(() => {
        try {
          this.flush();
        } catch (error) {
          this.#failed = { error };
        }
      });
  }

  /** Writes what is held; throws what failed (now, or at the end of an earlier turn). */
  flush(): void {
    this.#open = false;
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    const failed = this.#failed;
    this.#failed = undefined;
    if (failed !== undefined) throw failed.error;
    const held = this.#held;
    this.#held = [];
    for (const f of held) f();
  }
}

/** keepDepends during one job: the slot's prefix as found, and its base once known. */
interface KeepState {
  readonly prior: KeptPrefix | undefined;
  base: ReadonlySet<string> | undefined;
}

type StageContext = JobContext & {
  readonly atEnd: (f: () => void) => void;
  readonly keep: KeepState | undefined;
  readonly early: EarlyRecords;
  /** A stage's log file, its directory made at the first. */
  readonly logPath: (stage: string) => string;
  /** Whether the log directory was there before this job: an earlier attempt's logs may be in it. */
  readonly staleLogs: () => boolean;
};

async function runStages(ctx: StageContext): Promise<JobOutcome> {
  trace?.("logdir", ctx.pkg.pkgname);
  const env = hostEnv(ctx);
  const pkgdir = `${HOST.tree}/${ctx.pkg.pkgpath}`;
  const make = (target: string): readonly string[] => [
    ctx.config.make,
    ...ctx.pkg.makeArgs,
    target,
  ];

  const live = (stage: string): string => ctx.logPath(stage);
  const shipsDistfiles =
    ctx.config.distfiles === "master" &&
    ctx.distCache !== undefined &&
    ctx.config.targets.includes("fetch");
  // The distfile list, when Vars asked for it already.
  let distQuery: string | undefined;
  /** The stages that are one make run on the host (undefined for herd's others). */
  const stepOf = (stage: string): MakeStep | undefined => {
    if (stage === "Init") {
      // keepDepends lists the prefix after Init: a task of its own.
      const kit = kitOf(ctx.config);
      if (ctx.keep !== undefined || !kit.ok) return undefined;
      return { stage, argv: initArgv(ctx.config, kit.value, ctx.lease.slot), live: false };
    }
    if (stage === "Clean") return { stage, argv: make("clean"), cwd: pkgdir, live: true };
    if (stage === "Package") return { stage, argv: make("package"), cwd: pkgdir, live: true };
    if (stage === "Vars") {
      // One make run (a whole parse of the package's makefiles: most of a
      // second on a slow host) asks for PKGNAME and, when the master ships
      // the distfiles, for the distfile list the fetch stage needs.
      const ask = shipsDistfiles ? DISTFILE_QUERY : [];
      return {
        stage,
        argv: [ctx.config.make, ...ctx.pkg.makeArgs, "-V", "${PKGNAME}", ...ask],
        cwd: pkgdir,
        live: false,
        finish: (r) => {
          if (r.status !== 0) return r;
          const out = r.output.toString("latin1");
          const nl = out.indexOf("\n");
          const said = (nl < 0 ? out : out.slice(0, nl)).trim();
          if (ask.length > 0) distQuery = out.slice(nl + 1);
          if (said === ctx.pkg.pkgname) return r;
          const line = `herd: the host's tree gives PKGNAME ${said.slice(0, 200)}, the scan said ${ctx.pkg.pkgname}\n`;
          return { ok: true, status: 1, output: Buffer.concat([r.output, Buffer.from(line)]) };
        },
      };
    }
    if (HERD_STAGES.has(stage)) return undefined;
    return { stage, argv: make(stage), cwd: pkgdir, live: true };
  };
  const targets = ctx.config.targets;
  for (let i = 0; i < targets.length; i++) {
    const stage = targets[i]!;
    if (ctx.signal?.aborted === true) return { ok: false, lost: true, reason: "cancelled" };
    // A task is about to go out: what the master decided before it is recorded after this turn.
    if (!MASTER_STAGES.has(stage)) ctx.early.close();
    ctx.onStageStart?.(stage);
    const started = ctx.now();
    let r: StageResult;
    const step = stepOf(stage);
    if (MASTER_STAGES.has(stage)) {
      r = { ok: true, status: 0, output: Buffer.from(`${stage}: decided by the master's plan\n`) };
      if (ctx.early.open) {
        const decided = r;
        const ended = ctx.now();
        ctx.early.hold(() => record(ctx, stage, started, decided, ended));
        continue;
      }
    } else if (stage === "Init" && step === undefined) {
      r = await init(ctx, env);
      if (r.ok && r.status === 0 && ctx.keep !== undefined && ctx.keep.prior === undefined) {
        // A clean prefix: what is installed now (a kit's packages) stays for good.
        const listed = await installed(ctx, env);
        if (listed !== undefined) ctx.keep.base = listed;
      }
    } else if (stage === "Depends") {
      r = await installDepends(ctx, env);
    } else if (step !== undefined) {
      // With the master shipping distfiles, fetch sends them first (its log starts with what
      // it sent); Init sends the bootstrap kit first.
      let shipped: Buffer | undefined;
      r = { ok: true, status: 0, output: Buffer.from("") };
      if (stage === "fetch" && shipsDistfiles)
        r = await shipDistfiles(ctx, ctx.distCache, env, pkgdir, distQuery);
      else if (stage === "Init") r = kitInPlace(ctx) ?? (await shipInitKit(ctx));
      if (r.ok && r.status === 0 && r.output.length > 0) shipped = r.output;
      if (r.ok && r.status === 0) {
        const group = batchFrom(targets, i, stepOf, shipsDistfiles);
        if (
          ctx.config.batchStages &&
          ctx.lease.conn.canRunSteps &&
          group.filter((e) => e.step !== undefined).length > 1
        ) {
          const end = await runBatch(ctx, group, { started, shipped, env });
          if (end !== undefined) return end;
          i += group.length - 1;
          continue;
        }
        r = await run(
          ctx,
          { argv: step.argv, ...(step.cwd === undefined ? {} : { cwd: step.cwd }), env },
          step.live ? live(stage) : undefined,
        );
        if (r.ok && shipped !== undefined) r = { ...r, output: Buffer.concat([shipped, r.output]) };
        if (r.ok && step.finish !== undefined) r = step.finish(r);
      }
    } else {
      throw new Error(`bug: no way to run stage ${stage}`);
    }
    const end = record(ctx, stage, started, r);
    if (end !== undefined) return end;
  }
  if (ctx.signal?.aborted === true) return { ok: false, lost: true, reason: "cancelled" };
  if (ctx.shouldFetch?.() === false) return { ok: false, lost: true, reason: "redundant" };
  return fetchPackage(ctx);
}

/** A stage that is one make run on the host, and what the master makes of its result. */
interface MakeStep {
  readonly stage: string;
  readonly argv: readonly string[];
  /** Relative to the agent root; the root when undefined (Init). */
  readonly cwd?: string;
  /** Its log on the master grows while it runs (liveLog). */
  readonly live: boolean;
  /** The stage's result from the host's (Vars checks the PKGNAME the host printed). */
  readonly finish?: (r: StageRan) => StageRan;
}

type StageRan = Extract<StageResult, { ok: true }>;

/** A stage of a batch: a make run, or one the master decides (between two make runs). */
interface BatchEntry {
  readonly stage: string;
  readonly step: MakeStep | undefined;
}

/**
 * The stages from `targets[i]` on that can run as one agent task: make runs
 * (and Init) and the master's own stages between them, ending with a make
 * run. Init and a fetch the master ships distfiles for start a batch (they
 * send something first).
 */
function batchFrom(
  targets: readonly string[],
  i: number,
  stepOf: (stage: string) => MakeStep | undefined,
  shipsDistfiles: boolean,
): BatchEntry[] {
  const group: BatchEntry[] = [];
  for (let j = i; j < targets.length; j++) {
    const t = targets[j]!;
    if (MASTER_STAGES.has(t)) {
      group.push({ stage: t, step: undefined });
      continue;
    }
    const step = stepOf(t);
    // What sends something first (Init its kit, fetch distfiles) starts a batch.
    if (step === undefined || (j > i && (t === "Init" || (t === "fetch" && shipsDistfiles)))) break;
    group.push({ stage: t, step });
  }
  while (group.length > 0 && group.at(-1)!.step === undefined) group.pop();
  return group;
}

/**
 * Writes a stage's log and records it; the job's outcome when the stage
 * failed or the host was lost, undefined when it passed.
 */
function record(
  ctx: StageContext,
  stage: string,
  started: number,
  r: StageResult,
  ended: number = ctx.now(),
): JobOutcome | undefined {
  const wallMs = Math.round(ended - started);
  if (!r.ok) {
    ctx.onStage({ stage, startedMs: started, wallMs, status: -1, log: null });
    return { ok: false, lost: true, reason: r.reason };
  }
  const log = ctx.logPath(stage);
  // Synchronously: a small write costs a fifth of the CPU of fs/promises' three round
  // trips through the thread pool, and a bulk build writes one per stage of every package.
  writeFileSync(log, r.output);
  ctx.onStage({ stage, startedMs: started, wallMs, status: r.status, log });
  if (r.status !== 0)
    return { ok: false, lost: false, stage, reason: failureReason(stage, r.status, r.output) };
  return undefined;
}

/** What watches one running stage: its timeout, the watchdog and the live log. */
interface StageWatch {
  timedOut: boolean;
  readonly timer: NodeJS.Timeout | undefined;
  readonly dog: Watchdog | undefined;
  readonly follow: LiveLog | undefined;
}

/**
 * Watches the stage a task runs (its step `step`, for a task of steps): kills
 * the task after the stage timeout or when the watchdog fires, and streams
 * its output into `liveLog`.
 */
function watchStage(
  ctx: StageContext,
  task: RunningTask,
  liveLog: string | undefined,
  step?: number,
): StageWatch {
  const conn = ctx.lease.conn;
  const { stageTimeout, watchdog } = ctx.config;
  const w: StageWatch = {
    timedOut: false,
    timer:
      stageTimeout > 0
        ? setTimeout(() => {
            w.timedOut = true;
            task.kill("KILL");
          }, stageTimeout * 1000)
        : undefined,
    dog: watchdog > 0 ? watchOutput(conn, task, watchdog, Date.now, step) : undefined,
    follow:
      liveLog !== undefined && ctx.config.liveLog > 0
        ? followOutput(conn, task, liveLog, ctx.config.liveLog, step, ctx.staleLogs())
        : undefined,
  };
  return w;
}

/** Stops watching a stage (the live log's last look written); what the stage's log says of a kill. */
async function unwatchStage(ctx: JobContext, w: StageWatch): Promise<string> {
  await w.follow?.stop();
  if (w.timer !== undefined) clearTimeout(w.timer);
  w.dog?.stop();
  return w.timedOut
    ? `herd: killed after ${ctx.config.stageTimeout} s (stage timeout)\n`
    : w.dog?.fired() === true
      ? `herd: killed: no output for ${ctx.config.watchdog} s (watchdog)\n`
      : "";
}

/**
 * Consecutive make stages as one agent task of steps (the agent runs each
 * stage's make in turn, stopping at the first that fails): one round trip
 * for them all instead of one each, which is most of what a stage costs
 * beyond its make run on a slow host. Each stage still has its own make
 * run, log, status, wall time (from its step's end as the master hears of
 * it), stage timeout, watchdog and live log, and is recorded as it ends, as
 * a task of its own would be; the master's stages between two of them are
 * recorded as the first ends. A stage that fails on the master's side (a
 * PKGNAME that differs, a kill) stops the task. Returns the job's outcome
 * when a stage failed or the host was lost, undefined when all passed.
 */
async function runBatch(
  ctx: StageContext,
  group: readonly BatchEntry[],
  o: {
    /** When the first stage started (before it sent anything). */
    readonly started: number;
    /** What the first stage's log starts with (the distfiles or the kit it sent). */
    readonly shipped: Buffer | undefined;
    readonly env: Record<string, string>;
  },
): Promise<JobOutcome | undefined> {
  const conn = ctx.lease.conn;
  const steps = group.flatMap((e) => (e.step === undefined ? [] : [e.step]));
  if (conn.closed !== null)
    return record(ctx, steps[0]!.stage, o.started, {
      ok: false,
      lost: true,
      reason: `host ${ctx.lease.host} went away`,
    });
  const ends: { step: number; r: Result<StepOutput, RequestFailure>; at: number }[] = [];
  let done: { r: Result<TaskResult, RequestFailure>; at: number } | undefined;
  let wake: (() => void) | undefined;
  const task = ctx.lease.startSteps(
    {
      steps: steps.map((s) => ({
        argv: s.argv,
        ...(s.cwd === undefined ? {} : { cwd: s.cwd }),
      })),
      env: o.env,
    },
    (step, r) => {
      ends.push({ step, r, at: ctx.now() });
      wake?.();
    },
  );
  trace?.("sent", ctx.pkg.pkgname);
  void task.result.then((r) => {
    done = { r, at: ctx.now() };
    wake?.();
  });
  // The next step's end, in order, or undefined once the task ended.
  const next = async (): Promise<(typeof ends)[number] | undefined> => {
    for (;;) {
      const e = ends.shift();
      if (e !== undefined) return e;
      if (done !== undefined) return undefined;
      await new Promise<void>((res) => {
        wake = res;
      });
    }
  };
  const onAbort = (): void => {
    task.kill("KILL");
  };
  ctx.signal?.addEventListener("abort", onAbort);
  const logOf = (s: MakeStep): string | undefined => (s.live ? ctx.logPath(s.stage) : undefined);
  let k = 0;
  let started = o.started;
  let watch: StageWatch | undefined = watchStage(ctx, task, logOf(steps[0]!), 1);
  // The position in `group` of the stage running.
  let at = group.findIndex((e) => e.step !== undefined);
  try {
    for (;;) {
      const e = await next();
      if (e === undefined) break;
      if (e.step !== k + 1) continue;
      const step = steps[k]!;
      const ended: StageWatch = watch!;
      watch = undefined;
      const note = await unwatchStage(ctx, ended);
      let r: StageRan = e.r.ok
        ? withNote(e.r.value, note)
        : { ok: true, status: 1, output: Buffer.from(`herd: ${e.r.error.message}\n`) };
      if (k === 0 && o.shipped !== undefined)
        r = { ...r, output: Buffer.concat([o.shipped, r.output]) };
      if (step.finish !== undefined) r = step.finish(r);
      const end = record(ctx, step.stage, started, r, e.at);
      if (end !== undefined) {
        // The host goes on with the next step when its own status was 0: stop it.
        if (k + 1 < steps.length) task.kill("KILL");
        await task.result;
        return end;
      }
      k++;
      started = e.at;
      // The master's stages up to the next make run.
      for (at++; at < group.length && group[at]!.step === undefined; at++) {
        const stage = group[at]!.stage;
        ctx.onStageStart?.(stage);
        const decided: StageResult = {
          ok: true,
          status: 0,
          output: Buffer.from(`${stage}: decided by the master's plan\n`),
        };
        record(ctx, stage, started, decided, started);
      }
      if (k < steps.length) {
        // The next stage has started on the host: its watch starts now (its live log after
        // the logs before it, as when it is a task of its own).
        ctx.onStageStart?.(steps[k]!.stage);
        watch = watchStage(ctx, task, logOf(steps[k]!), k + 1);
      }
    }
    if (k === steps.length) return undefined;
    // The task ended before the step of the stage running ended (or began).
    const current = watch;
    watch = undefined;
    const note = current === undefined ? "" : await unwatchStage(ctx, current);
    const d = done!;
    let r: StageResult;
    if (!d.r.ok)
      r =
        d.r.error.reason === "lost"
          ? { ok: false, lost: true, reason: d.r.error.message }
          : { ok: true, status: 1, output: Buffer.from(`herd: ${d.r.error.message}\n`) };
    else if (d.r.value.status === 0 && note === "")
      r = {
        ok: true,
        status: 1,
        output: Buffer.from(`herd: the host ran ${k} of the task's ${steps.length} steps\n`),
      };
    else r = withNote(d.r.value, note);
    return record(ctx, steps[k]!.stage, started, r, d.at);
  } finally {
    if (watch !== undefined) await unwatchStage(ctx, watch);
    ctx.signal?.removeEventListener("abort", onAbort);
  }
}

/** The environment of every stage: the slot's own prefix, package and work directories. */
function hostEnv(ctx: JobContext): Record<string, string> {
  const { root, slot } = ctx.lease;
  const abs = (p: string): string => `${root}/${p}`;
  const localbase = localbaseOf(ctx.config, root, slot);
  const pkgdb = pkgDbDirOf(ctx.config, root, slot);
  const dirs = slotPaths(slot);
  const path = [
    ...ctx.config.path,
    `${localbase}/bin`,
    `${localbase}/sbin`,
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
  ];
  return {
    ...ctx.config.env,
    PATH: path.join(":"),
    LOCALBASE: localbase,
    ...(pkgdb === undefined ? {} : { PKG_DBDIR: pkgdb }),
    // Shared (NFS) setups: the host writes straight into the master's repository.
    PACKAGES: ctx.config.sharedPackages ? dirname(ctx.repo) : abs(dirs.packages),
    WRKOBJDIR: abs(dirs.work),
    // One DISTDIR per host, shared by its slots; with an NFS DISTDIR, the operator's mk.conf says.
    ...(ctx.config.distfiles === "shared" ? {} : { DISTDIR: abs(HOST.distfiles) }),
    MAKE_JOBS: String(ctx.config.makeJobs),
    BATCH: "yes",
  };
}

async function run(
  ctx: StageContext,
  spec: { argv: readonly string[]; cwd?: string; env: Record<string, string> },
  liveLog?: string,
): Promise<StageResult> {
  const conn = ctx.lease.conn;
  if (conn.closed !== null)
    return { ok: false, lost: true, reason: `host ${ctx.lease.host} went away` };
  const task = ctx.lease.start({
    argv: spec.argv,
    ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    env: spec.env,
  });
  trace?.("sent", ctx.pkg.pkgname);
  const onAbort = (): void => {
    task.kill("KILL");
  };
  ctx.signal?.addEventListener("abort", onAbort);
  const watch = watchStage(ctx, task, liveLog);
  const r = await task.result;
  const note = await unwatchStage(ctx, watch);
  ctx.signal?.removeEventListener("abort", onAbort);
  if (!r.ok) {
    if (r.error.reason === "lost") return { ok: false, lost: true, reason: r.error.message };
    return { ok: true, status: 1, output: Buffer.from(`herd: ${r.error.message}\n`) };
  }
  return withNote(r.value, note);
}

function withNote(t: { readonly status: number; readonly output: Buffer }, note: string): StageRan {
  const output = note === "" ? t.output : Buffer.concat([t.output, Buffer.from(note)]);
  return { ok: true, status: note === "" ? t.status : t.status === 0 ? 1 : t.status, output };
}

/**
 * `distfiles: "master"`: asks the host's make which distfiles the package
 * needs (for the host's platform), has the master's cache fetch and verify
 * each, and sends the host those it lacks, cksum-checked in transit, into its
 * DISTDIR; the `make fetch` after it then finds them all there.
 */
async function shipDistfiles(
  ctx: StageContext,
  cache: DistCache,
  env: Record<string, string>,
  pkgdir: string,
  asked: string | undefined,
): Promise<StageResult> {
  const failed = (log: string[], line: string): StageResult => ({
    ok: true,
    status: 1,
    output: Buffer.from(`${log.join("")}herd: ${line}\n`),
  });
  let answer = asked;
  if (answer === undefined) {
    const q = await run(ctx, {
      argv: [ctx.config.make, ...ctx.pkg.makeArgs, ...DISTFILE_QUERY],
      cwd: pkgdir,
      env,
    });
    if (!q.ok || q.status !== 0) return q;
    answer = q.output.toString("latin1");
  }
  const parsed = parseDistfileQuery(answer);
  if (!parsed.ok)
    return failed([], `the host's make gave no usable distfile list: ${parsed.error}`);
  const { files, distdir } = parsed.value;
  if (files.length === 0) return { ok: true, status: 0, output: Buffer.from("") };
  const distinfo = cache.masterDistinfo(parsed.value.distinfo, `${ctx.lease.root}/${HOST.tree}`);
  if (distinfo === null)
    return failed([], `DISTINFO_FILE ${parsed.value.distinfo} is outside the host's tree copy`);
  const log: string[] = [];
  const inUse = ctx.distInUse;
  for (const f of files) inUse?.set(f.name, (inUse.get(f.name) ?? 0) + 1);
  ctx.atEnd(() => {
    for (const f of files) {
      const n = (inUse?.get(f.name) ?? 1) - 1;
      if (n <= 0) inUse?.delete(f.name);
      else inUse?.set(f.name, n);
    }
  });
  let sentAny = false;
  for (const file of files) {
    const got = await cache.ensure(file, distinfo);
    if (!got.ok) return failed(log, got.error);
    const dest = `${distdir}/${file.name}`;
    const sent = await ctx.hostCache.ensure(`distfile:${dest}`, () =>
      sendFile(ctx.lease.conn, got.value, dest, `distfile ${file.name}`),
    );
    if (!sent.ok) {
      if (sent.error.lost) return { ok: false, lost: true, reason: sent.error.message };
      return failed(log, `could not send distfile ${file.name}: ${sent.error.message}`);
    }
    if (sent.value !== "") sentAny = true;
    log.push(
      `herd: ${sent.value === "" ? `distfile ${file.name}: the host has it\n` : sent.value}`,
    );
  }
  const bound = ctx.config.hostDistdirBytes;
  if (sentAny && bound > 0) {
    // What the host holds beyond the bound goes, least recently used first, but what
    // any package on the host is using now.
    const keep = [...(inUse?.keys() ?? files.map((f) => f.name))];
    const ev = await ctx.lease.run({
      argv: ["sh", "-c", EVICT, "herd-evict", distdir, String(bound), ...keep],
    });
    if (ev.ok && ev.value.status === 0) {
      for (const line of ev.value.output.toString("latin1").split("\n")) {
        const m = /^evicted \.\/(\S+) (\d+)$/.exec(line);
        if (m === null) continue;
        ctx.hostCache.forget(`distfile:${distdir}/${m[1]!}`);
        log.push(
          `herd: evicted ${m[1]!} (${m[2]!} bytes) from the host's DISTDIR (hostDistdirBytes ${bound})\n`,
        );
      }
    } else log.push("herd: could not bound the host's DISTDIR (the build goes on)\n");
  }
  return { ok: true, status: 0, output: Buffer.from(log.join("")) };
}

/**
 * Removes the least recently used files of DISTDIR ($1) beyond $2 bytes, but
 * the names after them; prints "evicted ./NAME SIZE" for each. Use is the
 * file's mtime: pkgsrc's checksum reads a file, and a file herd sends is new.
 * `ls -t` orders the names find hands it (one batch for any usual DISTDIR).
 */
const EVICT =
  'd=$1; max=$2; shift 2; cd "$d" 2>/dev/null || exit 0; total=0; ' +
  "find . -type f ! -name '*.part' -exec ls -lndt {} + | " +
  "while read -r _m _l _u _g size _a _b _c name; do " +
  'total=$((total + size)); [ "$total" -gt "$max" ] || continue; ' +
  'k=; for n; do [ "./$n" = "$name" ] && k=1; done; [ -n "$k" ] && continue; ' +
  'rm -f "$name" && echo "evicted $name $size"; done';

/**
 * Init's kit step when it has nothing to send (no kit, or the host holds it
 * already), as shipInitKit would say it, without waiting: the Init then goes
 * out in the same turn as the package's start, not after every other
 * package the same dispatch round starts (a burst of a hundred made the last
 * ones wait tens of milliseconds: bench/latency.ts). Undefined otherwise.
 */
function kitInPlace(ctx: StageContext): StageResult | undefined {
  const kit = kitOf(ctx.config);
  if (!kit.ok) return undefined;
  if (kit.value !== null && !ctx.hostCache.has(kitKey(kit.value))) return undefined;
  return { ok: true, status: 0, output: Buffer.from("") };
}

/** Init without keepDepends: sends the bootstrap kit (if any) the host lacks; what it did, for the log. */
async function shipInitKit(ctx: StageContext): Promise<StageResult> {
  const kit = kitOf(ctx.config);
  if (!kit.ok) return { ok: true, status: 1, output: Buffer.from(`herd: ${kit.error}\n`) };
  if (kit.value === null) return { ok: true, status: 0, output: Buffer.from("") };
  const shipped = await shipKit(ctx.lease.conn, kit.value, ctx.hostCache);
  if (!shipped.ok) {
    if (shipped.error.lost) return { ok: false, lost: true, reason: shipped.error.message };
    return {
      ok: true,
      status: 1,
      output: Buffer.from(`herd: could not send the bootstrap kit: ${shipped.error.message}\n`),
    };
  }
  return { ok: true, status: 0, output: Buffer.from(shipped.value) };
}

/** Empties the prefix (refilled from the bootstrap kit, shipped first if the host lacks it). */
async function init(ctx: StageContext, env: Record<string, string>): Promise<StageResult> {
  if (ctx.keep?.prior !== undefined) {
    // keepDepends, after a build of this master on this slot: fresh work
    // directories, the prefix as it is (Depends removes what is not needed).
    const r = await run(ctx, { argv: keptInitArgv(ctx.lease.slot), env });
    if (!r.ok) return r;
    const note = "keepDepends: the prefix of this slot's last build is kept\n";
    return { ...r, output: Buffer.concat([Buffer.from(note), r.output]) };
  }
  const kit = kitOf(ctx.config);
  const shipped = await shipInitKit(ctx);
  if (!kit.ok || !shipped.ok || shipped.status !== 0) return shipped;
  const r = await run(ctx, { argv: initArgv(ctx.config, kit.value, ctx.lease.slot), env });
  if (!r.ok || shipped.output.length === 0) return r;
  return { ...r, output: Buffer.concat([shipped.output, r.output]) };
}

/** The packages installed in the slot's prefix (the first word of each line `pkg_info` prints). */
async function installed(
  ctx: StageContext,
  env: Record<string, string>,
): Promise<Set<string> | undefined> {
  const r = await run(ctx, { argv: ["pkg_info"], env });
  if (!r.ok || r.status !== 0) return undefined;
  const names = r.output
    .toString("latin1")
    .split("\n")
    .map((l) => l.split(/\s/)[0] ?? "")
    .filter((n) => n !== "");
  return new Set(names);
}

/**
 * keepDepends on a kept prefix: removes the packages the package must not
 * see (installed, not among its dependencies, not the base) and returns the
 * dependencies still to install, in order, with what it did for the log.
 */
async function reuseKept(
  ctx: StageContext,
  env: Record<string, string>,
  base: ReadonlySet<string>,
): Promise<{ ok: true; missing: string[]; log: string } | { ok: false; result: StageResult }> {
  const have = await installed(ctx, env);
  if (have === undefined)
    return {
      ok: false,
      result: {
        ok: true,
        status: 1,
        output: Buffer.from("herd: pkg_info could not list the prefix\n"),
      },
    };
  const needed = new Set(ctx.pkg.installs);
  const extra = [...have].filter((n) => !needed.has(n) && !base.has(n)).sort();
  const kept = ctx.pkg.installs.filter((n) => have.has(n));
  let log = `keepDepends: kept ${kept.length === 0 ? "nothing" : kept.join(" ")}\n`;
  if (extra.length > 0) {
    log += `keepDepends: pkg_delete -f ${extra.join(" ")}\n`;
    const d = await run(ctx, { argv: ["pkg_delete", "-f", ...extra], env });
    if (!d.ok) return { ok: false, result: d };
    if (d.status !== 0)
      return {
        ok: false,
        result: { ...d, output: Buffer.concat([Buffer.from(log), d.output]) },
      };
    log += d.output.toString("latin1");
  }
  return { ok: true, missing: ctx.pkg.installs.filter((n) => !have.has(n)), log };
}

/** Ships the dependency packages the host lacks, then installs them all in order. */
async function installDepends(
  ctx: StageContext,
  env: Record<string, string>,
): Promise<StageResult> {
  const log: string[] = [];
  let installs = ctx.pkg.installs;
  const base = ctx.keep?.prior?.base;
  if (base !== undefined) {
    const k = await reuseKept(ctx, env, base);
    if (!k.ok) return k.result;
    log.push(k.log);
    installs = k.missing;
  }
  if (installs.length === 0)
    return {
      ok: true,
      status: 0,
      output: Buffer.from(
        `${log.join("")}${ctx.pkg.installs.length === 0 ? "no dependencies" : "nothing to add"}\n`,
      ),
    };
  const files: string[] = [];
  for (const dep of installs) {
    const file = `${dep}.tgz`;
    if (ctx.config.sharedPackages) {
      files.push(join(ctx.repo, file));
      continue;
    }
    files.push(`${HOST.cache}/${file}`);
    const sent = await ctx.hostCache.ensure(dep, () =>
      sendFile(ctx.lease.conn, join(ctx.repo, file), `${HOST.cache}/${file}`, file),
    );
    if (!sent.ok) {
      if (sent.error.lost) return { ok: false, lost: true, reason: sent.error.message };
      return {
        ok: true,
        status: 1,
        output: Buffer.from(`${log.join("")}herd: could not send ${file}: ${sent.error.message}\n`),
      };
    }
    if (sent.value !== "") ctx.onPackageSent?.(file);
    log.push(sent.value);
  }
  // Only pkg_add sees PKG_PATH: pkgsrc refuses to work with it set.
  const pkgPath = ctx.config.sharedPackages ? ctx.repo : `${ctx.lease.root}/${HOST.cache}`;
  log.push(`pkg_add ${files.join(" ")}\n`);
  const r = await run(ctx, { argv: ["pkg_add", ...files], env: { ...env, PKG_PATH: pkgPath } });
  if (!r.ok) return r;
  return {
    ok: true,
    status: r.status,
    output: Buffer.concat([Buffer.from(log.join("")), r.output]),
  };
}

/** Brings the binary package back, verified in transit, and stores it under its sha256. */
async function fetchPackage(ctx: JobContext): Promise<JobOutcome> {
  const { conn, host, slot } = ctx.lease;
  const name = `${ctx.pkg.pkgname}.tgz`;
  const dest = join(ctx.repo, name);
  const started = ctx.now();
  let staged = dest;
  // The received bytes, read once for vetting and the checksum.
  let data: Buffer | undefined;
  if (!ctx.config.sharedPackages) {
    // One name per host: two copies of a task may fetch at the same time.
    const incoming = `${dest}.${host}.${slot}.incoming`;
    trace?.("get", ctx.pkg.pkgname);
    // The bytes are kept as they arrive: reading the file back went through the thread pool,
    // and the dependents waited for it (bench/latency.ts).
    const got = await getToFile(conn, `${slotPaths(slot).packages}/All/${name}`, incoming, {
      keep: true,
    });
    trace?.("got", ctx.pkg.pkgname);
    if (!got.ok) {
      await rm(incoming, { force: true });
      // Lost, or damaged in transit: nothing is kept and the package is built again.
      if (got.error.reason === "lost" || got.error.reason === "corrupt")
        return { ok: false, lost: true, reason: `${name}: ${got.error.message}` };
      return {
        ok: false,
        lost: false,
        stage: "Package",
        reason: `could not fetch ${name}: ${got.error.message}`,
      };
    }
    data = got.value.bytes ?? (await readFile(incoming));
    const bad = vetPackage(data, ctx.pkg.pkgname);
    if (bad !== undefined) {
      await rm(incoming, { force: true });
      return {
        ok: false,
        lost: false,
        stage: "Package",
        reason: `rejected ${name} from ${host}: ${bad}`,
      };
    }
    staged = incoming;
  }
  try {
    const bytes = data ?? (await readFile(staged));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    ctx.onStage({
      stage: "Fetch",
      startedMs: started,
      wallMs: Math.round(ctx.now() - started),
      status: 0,
      log: null,
    });
    return { ok: true, file: dest, staged, sha256, size: bytes.length };
  } catch {
    return { ok: false, lost: false, stage: "Package", reason: `the host made no ${name}` };
  }
}

/** Moves a fetched package into the repository; call it once the store has recorded the package. */
export function commitPackage(o: { readonly file: string; readonly staged: string }): void {
  if (o.staged !== o.file) renameSync(o.staged, o.file);
}

/** Drops a fetched package that will not be recorded (its copy was stopped). */
export function discardPackage(o: { readonly file: string; readonly staged: string }): void {
  if (o.staged !== o.file) rmSync(o.staged, { force: true });
}
