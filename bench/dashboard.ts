/**
 * The live dashboard of a full-size build at its busiest. Every buildable
 * package of the real 29,022-package tree (presolve.zst, resolved and
 * classified as herd does) is played on --hosts hosts in virtual time
 * (tests/lib/bigbuild.ts: package-start, 15 stage events, package-end and
 * progress per package, ~5 % failures and the dependents they fail); the
 * events up to the moment --settled packages have been built or failed go
 * into a store on disk through store.appendEvent, as `herd build` writes
 * them, and this process holds the work directory's lock, so the build
 * looks alive. Then `herd serve` runs over it in a process of its own, and
 * the bench measures:
 *
 * - how long `herd serve` takes to fold the store and print its URL;
 * - the first responses: the page, /api/state, the event stream's snapshot;
 * - in Chromium (playwright-core, Debian's chromium), from navigation to the
 *   page showing the build's counts (the built count as stored), and the
 *   main thread's long tasks in the first 3 s;
 * - live: the next --live events appended to the store, until the page
 *   shows the new built count (the serve's --poll is 500 ms), and the bytes
 *   the event stream sent meanwhile;
 * - paging through the failed packages (/api/packages);
 * - the serve process's memory (VmRSS, VmHWM).
 *
 * Usage: node dist/bench/dashboard.js [--hosts 500] [--settled 15000]
 *          [--fail 0.05] [--runs 3] [--live 3000] [--previous] [--keep]
 * --previous puts a whole earlier build (~424,000 events) in the store first,
 * as a work directory that has seen builds before.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readScanFile } from "../src/cli/input.js";
import { classify } from "../src/core/classify.js";
import { field } from "../src/core/records.js";
import { resolveRecords } from "../src/core/resolve.js";
import { Store } from "../src/store/store.js";
import { launchBrowser } from "../tests/lib/browser.js";
import {
  appendEvents,
  cutAtSettled,
  simulateBuild,
  type BigPackage,
  type TimedEvent,
} from "../tests/lib/bigbuild.js";

const root = resolve(import.meta.dirname, "../..");
const presolve = resolve(root, "../shared/data/pkgsrc-2026/presolve.zst");
const cli = join(root, "dist/src/cli/main.js");

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "500" },
    settled: { type: "string", default: "15000" },
    fail: { type: "string", default: "0.05" },
    runs: { type: "string", default: "3" },
    live: { type: "string", default: "3000" },
    keep: { type: "boolean", default: false },
    previous: { type: "boolean", default: false },
  },
});
const HOSTS = Number(values.hosts);
const SETTLED = Number(values.settled);
const RUNS = Number(values.runs);
const LIVE = Number(values.live);

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const kb = (x: number): string => `${(x / 1024).toFixed(1)} KB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The buildable packages of the real tree, and the plan's verdicts on the others. */
async function realTree(): Promise<{ pkgs: BigPackage[]; extra: Record<string, number> }> {
  const records = await readScanFile(presolve);
  const res = resolveRecords(records);
  const classes = classify(res).classes;
  const index = new Int32Array(records.length).fill(-1);
  const extra: Record<string, number> = {};
  let b = 0;
  classes.forEach((c, i) => {
    if (c === "buildable") index[i] = b++;
    else extra[c] = (extra[c] ?? 0) + 1;
  });
  const pkgs: BigPackage[] = [];
  records.forEach((r, i) => {
    if (index[i]! < 0) return;
    pkgs.push({
      pkgname: r.pkgname,
      pkgpath: field(r, "PKG_LOCATION") ?? "",
      deps: res.depends[i]!.map((d) => index[d]!).filter((d) => d >= 0),
    });
  });
  return { pkgs, extra };
}

/** Runs in the page (its source is sent there): the counts row shows `want` built. */
function showsBuilt(want: number): boolean {
  const doc = (globalThis as unknown as { document: { querySelector(s: string): Node | null } })
    .document;
  return doc.querySelector('#counts [data-count="built"] b')?.textContent === String(want);
}
interface Node {
  readonly textContent: string | null;
}

const LONG_TASKS = `window.__long = [];
try {
  new PerformanceObserver(function (l) {
    l.getEntries().forEach(function (e) { window.__long.push(e.duration); });
  }).observe({ type: "longtask", buffered: true });
} catch (e) {}`;

function countBuilt(events: readonly TimedEvent[]): number {
  return events.filter((x) => x.e.type === "package-end" && x.e.result === "built").length;
}

function memory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kbOf = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kbOf("VmRSS") / 1024, hwm: kbOf("VmHWM") / 1024 };
}

/** GET: status, bytes and milliseconds. */
async function get(
  url: string,
): Promise<{ status: number; bytes: number; ms: number; body: string }> {
  const t = performance.now();
  const r = await fetch(url);
  const body = await r.text();
  return { status: r.status, bytes: Buffer.byteLength(body), ms: performance.now() - t, body };
}

/** Opens the event stream; resolves with its first snapshot's size and time, and a byte counter. */
function openStream(url: string): Promise<{
  bytes: number;
  ms: number;
  total: () => number;
  messages: () => number;
  close: () => void;
}> {
  return new Promise((res, rej) => {
    const t = performance.now();
    let text = "";
    let total = 0;
    let messages = 0;
    let first = false;
    const req = request(new URL("/events", url), (r) => {
      r.setEncoding("utf8");
      r.on("data", (d: string) => {
        total += Buffer.byteLength(d);
        messages += d.split("\n\n").length - 1;
        if (first) return;
        text += d;
        const i = text.indexOf("event: snapshot");
        const end = i < 0 ? -1 : text.indexOf("\n\n", i);
        if (end < 0) return;
        first = true;
        res({
          bytes: Buffer.byteLength(text.slice(i, end)),
          ms: performance.now() - t,
          total: () => total,
          messages: () => messages,
          close: () => req.destroy(),
        });
      });
    });
    req.on("error", rej);
    req.end();
  });
}

const tLoad = performance.now();
const { pkgs, extra } = await realTree();
const loadS = (performance.now() - tLoad) / 1000;
const work = mkdtempSync(join(tmpdir(), "herd-bench-dash-"));
const store = new Store(join(work, "herd.db"));
// --previous: the work directory also holds an earlier build of the whole tree, finished.
const prevId = values.previous ? store.startBuild("/usr/pkgsrc", "bench-0", Date.now()) : null;
const buildId = store.startBuild("/usr/pkgsrc", "bench", Date.now());
const tSim = performance.now();
const sim = simulateBuild(pkgs, {
  buildId,
  hosts: HOSTS,
  failRate: Number(values.fail),
  seed: 17,
  planExtra: extra,
});
const { head, tail } = cutAtSettled(sim.events, SETTLED);
const simS = (performance.now() - tSim) / 1000;
// The cut is now: the build started that long ago.
const base = Date.now() - head.at(-1)!.t;
const tFill = performance.now();
if (prevId !== null) {
  const end = sim.events.at(-1)!.t;
  const earlier: TimedEvent[] = sim.events.map((x) =>
    x.e.type === "build-start" ? { t: x.t, e: { ...x.e, build: prevId } } : x,
  );
  earlier.push({
    t: end,
    e: { type: "build-end", build: prevId, counts: {}, report: "", packages: "" },
  });
  appendEvents(store, prevId, earlier, base - end - 86_400_000);
  store.finishBuild(prevId, base - 86_400_000, "done");
  console.log(`an earlier build in the store: ${earlier.length} events`);
}
appendEvents(store, buildId, head, base);
const fillS = (performance.now() - tFill) / 1000;
store.close();
writeFileSync(join(work, "herd.lock"), `${process.pid}\n`);

const built = countBuilt(head);
let running = 0;
let failed = 0;
let indirect = 0;
for (const { e } of head) {
  if (e.type === "package-start") running++;
  else if (e.type === "package-end") {
    running--;
    if (e.result === "failed") failed++;
  } else if (e.type === "indirect-failed") indirect++;
}
console.log(
  `tree: ${pkgs.length} buildable packages (read and resolved in ${loadS.toFixed(1)} s); ` +
    `the whole build played in ${simS.toFixed(1)} s: ${sim.events.length} events, ` +
    `${sim.failed} failed, ${sim.indirect} indirect-failed`,
);
console.log(
  `store at the cut: ${head.length} events of build ${buildId} (written in ${fillS.toFixed(1)} s), ` +
    `${built} built, ${failed} failed, ${indirect} indirect-failed, ${running} running on ${HOSTS} hosts`,
);

// herd serve, as an operator runs it.
const tServe = performance.now();
const serve = spawn("node", [cli, "serve", "--work", work, "127.0.0.1:0", "--poll", "500"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const url = await new Promise<string>((res, rej) => {
  let out = "";
  serve.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    const m = /(http:\/\/\S+)/.exec(out);
    if (m !== null) res(m[1]!);
  });
  serve.on("close", (code) => {
    rej(new Error(`herd serve exited (${String(code)}): ${out}`));
  });
});
const serveS = (performance.now() - tServe) / 1000;
const pid = serve.pid!;
const mem0 = memory(pid);
console.log(
  `herd serve: URL after ${serveS.toFixed(2)} s; RSS ${mem0.rss.toFixed(0)} MB (peak ${mem0.hwm.toFixed(0)} MB)`,
);

const page = await get(url);
const state = await get(new URL("/api/state", url).href);
const sse = await openStream(url);
sse.close();
console.log(
  `first responses: page ${kb(page.bytes)} in ${ms(page.ms)}; /api/state ${kb(state.bytes)} in ${ms(state.ms)}; ` +
    `event stream snapshot ${kb(sse.bytes)} after ${ms(sse.ms)}`,
);

const browser = await launchBrowser();
const firstRender: number[] = [];
const marks: number[] = [];
const longTasks: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const p = await browser.context.newPage();
    // Long tasks of the main thread (tsconfig has no DOM types: the page's code is text).
    await p.addInitScript(LONG_TASKS);
    const t = performance.now();
    await p.goto(url, { waitUntil: "commit" });
    await p.waitForFunction(showsBuilt, built, { polling: "raf", timeout: 120_000 });
    firstRender.push(performance.now() - t);
    marks.push(
      await p.evaluate<number>(
        '(performance.getEntriesByName("herd-first-render")[0] || { startTime: -1 }).startTime',
      ),
    );
    await p.waitForTimeout(3000);
    longTasks.push(await p.evaluate<number>("window.__long.reduce((a, b) => a + b, 0)"));
    if (i < RUNS - 1) await p.close();
  }
  console.log(
    `Chromium, navigation to the counts shown: median ${ms(median(firstRender))} of ${RUNS} ` +
      `(${firstRender.map(ms).join(", ")})` +
      (marks.some((m) => m >= 0) ? `; the page's own mark: ${marks.map(ms).join(", ")}` : "") +
      `; long tasks in the first 3 s: ${longTasks.map(ms).join(", ")}`,
  );

  // Live: the build goes on; the page keeps the last run's tab open.
  const live = browser.context.pages().at(-1)!;
  const watcher = await openStream(url);
  const b0 = watcher.total();
  const next = tail.slice(0, LIVE);
  const want = built + countBuilt(next);
  const tLive = performance.now();
  const s2 = new Store(join(work, "herd.db"));
  appendEvents(s2, buildId, next, base);
  s2.close();
  await live.waitForFunction(showsBuilt, want, { polling: "raf", timeout: 120_000 });
  const liveMs = performance.now() - tLive;
  await new Promise((r) => setTimeout(r, 1500));
  console.log(
    `live: ${next.length} more events appended (built ${built} -> ${want}): the page showed it after ` +
      `${ms(liveMs)} (poll 500 ms); the event stream sent ${kb(watcher.total() - b0)} in ` +
      `${watcher.messages()} messages meanwhile`,
  );
  watcher.close();

  const pages: string[] = [];
  for (const query of [
    "state=failed&offset=0",
    `state=failed&offset=${Math.floor(failed / 2)}`,
    `state=failed&offset=${Math.max(0, failed - 50)}`,
    "state=settled&offset=10000",
    "state=settled&q=py313-",
  ]) {
    const r = await get(new URL(`/api/packages?${query}&limit=50`, url).href);
    const total = r.status === 200 ? (JSON.parse(r.body) as { total: number }).total : 0;
    pages.push(
      r.status === 200
        ? `${query}: ${kb(r.bytes)} in ${ms(r.ms)} (of ${total})`
        : `${query}: HTTP ${r.status}`,
    );
  }
  console.log(`pages of 50 (/api/packages): ${pages.join("; ")}`);
  const mem1 = memory(pid);
  console.log(
    `herd serve memory after ${RUNS + 1} pages and the live phase: RSS ${mem1.rss.toFixed(0)} MB (peak ${mem1.hwm.toFixed(0)} MB)`,
  );
} finally {
  await browser.close();
  serve.kill("SIGTERM");
  if (values.keep) console.log(`work directory kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
