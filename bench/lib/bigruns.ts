/**
 * How the packages of a synthetic build ran (bigstore.ts): when and where,
 * their stages, and for failures the stage, reason and logs a real build of
 * pkgsrc would show.
 */
import { TaskHeap } from "../../src/core/sched/heap.js";
import { DEFAULT_TARGETS, MASTER_STAGES } from "../../src/core/targets.js";

/** Where builds fail, roughly as bulk builds see it. */
const FAIL_STAGES: readonly (readonly [string, number])[] = [
  ["build", 0.55],
  ["configure", 0.18],
  ["fetch", 0.07],
  ["Package", 0.06],
  ["Depends", 0.04],
  ["patch", 0.03],
  ["checksum", 0.03],
  ["extract", 0.02],
  ["Vars", 0.01],
  ["Init", 0.01],
];

/** The stage a failing package fails in. */
export function pickStage(rand: () => number): string {
  let r = rand();
  for (const [stage, p] of FAIL_STAGES) if ((r -= p) < 0) return stage;
  return "build";
}

export interface Run {
  readonly host: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * When and where each package tried ran: greedy list scheduling on
 * hosts × slots, the package ready first going to the slot free first.
 */
export function schedule(
  deps: readonly (readonly number[])[],
  dependents: readonly (readonly number[])[],
  /** Whether the build tried the package, and whether it failed (then its dependents were not tried). */
  tried: (i: number) => boolean,
  failed: (i: number) => boolean,
  pool: { readonly hosts: number; readonly slots: number; readonly startMs: number },
  rand: () => number,
): (Run | undefined)[] {
  const n = deps.length;
  const { hosts, slots, startMs } = pool;
  const ready = new Float64Array(n).fill(startMs);
  const prio = new Float64Array(n);
  const tie = new Float64Array(n);
  const heap = new TaskHeap(n, prio, tie);
  const pending = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!tried(i)) continue;
    pending[i] = deps[i]!.length;
    prio[i] = -startMs;
    if (pending[i] === 0) heap.push(i);
  }
  const free = new Float64Array(hosts * slots).fill(startMs);
  const runs = new Array<Run | undefined>(n);
  while (heap.size > 0) {
    const i = heap.pop();
    let lane = 0;
    for (let l = 1; l < free.length; l++) if (free[l]! < free[lane]!) lane = l;
    const start = Math.max(free[lane]!, ready[i]!) + Math.round(rand() * 2000);
    const end = start + packageMs(rand);
    free[lane] = end;
    runs[i] = {
      host: `build${String(Math.floor(lane / slots) + 1).padStart(2, "0")}`,
      startMs: start,
      endMs: end,
    };
    if (failed(i)) continue;
    for (const c of dependents[i]!) {
      if (!tried(c)) continue;
      ready[c] = Math.max(ready[c]!, end);
      if (--pending[c]! === 0) {
        // Max-heap: the earliest ready first.
        prio[c] = -ready[c];
        heap.push(c);
      }
    }
  }
  return runs;
}

/** A package's wall time: log-normal, median 90 s, a long tail capped at 12 h. */
function packageMs(rand: () => number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Math.round(Math.min(12 * 3600_000, 90_000 * Math.exp(1.3 * z)));
}

/** Share of a package's time per stage (herd's master stages take next to none). */
const STAGE_SHARE: Readonly<Record<string, number>> = {
  Init: 0.02,
  Clean: 0.01,
  Vars: 0.02,
  Depends: 0.08,
  fetch: 0.02,
  checksum: 0.01,
  extract: 0.03,
  patch: 0.01,
  configure: 0.15,
  build: 0.55,
  Package: 0.1,
};

/** A run's stages in TARGETS order, up to the failed one, its time shared out among them. */
export function stagePlan(
  run: Run,
  fail: string | null,
  rand: () => number,
): { stage: string; startedMs: number; wallMs: number; status: number }[] {
  const total = run.endMs - run.startMs;
  const out: { stage: string; startedMs: number; wallMs: number; status: number }[] = [];
  let t = run.startMs;
  for (const stage of DEFAULT_TARGETS) {
    const wallMs = MASTER_STAGES.has(stage)
      ? Math.round(rand() * 3)
      : Math.round(total * (STAGE_SHARE[stage] ?? 0));
    const failed = stage === fail;
    out.push({ stage, startedMs: t, wallMs, status: failed ? 1 : 0 });
    t += wallMs;
    if (failed) break;
  }
  return out;
}

const ERRORS = [
  (f: string) =>
    `${f}.c:100:5: error: implicit declaration of function 'strlcpy' [-Wimplicit-function-declaration]`,
  (f: string) => `${f}.cpp:42:10: fatal error: boost/asio.hpp: No such file or directory`,
  (f: string) => `ld: ${f}.o: undefined reference to 'major'`,
  (f: string) => `${f}.rs:17:9: error[E0599]: no method named \`as_str\` found`,
  (f: string) => `${f}.go:8:2: cannot find package "golang.org/x/sys/unix"`,
];

/** Why a stage failed, in the words herd records (src/core/vet.ts, distfiles). */
export function failReason(pkgname: string, stage: string, rand: () => number): string {
  const base = pkgname.replace(/-[^-]*$/, "");
  switch (stage) {
    case "fetch":
      return `could not fetch ${base}-src.tar.gz: https://ftp.NetBSD.org/pub/pkgsrc/distfiles/${base}-src.tar.gz: HTTP 404; https://example.org/dist/${base}-src.tar.gz: connection refused`;
    case "checksum":
      return `checksum failed (exit 1): => Checksum SHA512 mismatch for ${base}-src.tar.gz`;
    case "configure":
      return `configure failed (exit 1): configure: error: Package requirements (glib-2.0 >= 2.80) were not met`;
    case "Depends":
      return `Depends failed (exit 1): pkg_add: no pkg found for 'gettext-lib>=0.22', sorry.`;
    case "Package":
      return `Package failed (exit 1): pkg_create: can't stat 'share/doc/${base}/README'`;
    case "build":
      return `build failed (exit 1): ${ERRORS[Math.floor(rand() * ERRORS.length)]!(`src/${base}`)}`;
    default:
      return `${stage} failed (exit 1): ${base}: ${stage} went wrong`;
  }
}

/** A stage's log: a few lines, or for the failed stage a compiler's worth ending in the error. */
export function stageLog(
  pkgname: string,
  stage: string,
  status: number,
  reason: string,
  rand: () => number,
): string {
  const head = `===> ${stage} for ${pkgname}\n`;
  if (status === 0)
    return head + `=> ${stage}: nothing to report\n`.repeat(1 + Math.floor(rand() * 20));
  const lines = Math.round(
    Math.min(
      40_000,
      100 * Math.exp(1.5 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())),
    ),
  );
  const body: string[] = [head];
  for (let k = 0; k < lines; k++)
    body.push(`cc -O2 -pipe -I/usr/pkg/include -c src/file${k}.c -o src/file${k}.o\n`);
  body.push(reason + "\n", "*** Error code 1\n\nStop.\n");
  return body.join("");
}
