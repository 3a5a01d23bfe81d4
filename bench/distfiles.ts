/**
 * Distfiles over the channel: a build whose distfiles total MB megabytes
 * (default 200, in PKGS packages of random, incompressible bytes) on 3 ssh
 * build hosts, each an sshd in a network namespace of its own (they cannot
 * reach the site), the link to each throttled by tc to LINK bytes/s
 * (default 1 MB/s, master to host). The site is an HTTP server on 127.0.0.1
 * that sends each response at SITE bytes/s (default 4 MB/s: a site on the
 * internet, not a loopback). Packages take 3 s to configure, and some are
 * chained by DEPENDS so the schedule matters.
 *
 * Two runs from scratch (fresh work directories and host roots):
 * - overlapped: `herd build` with an empty cache (fetching runs beside the
 *   scan and the build);
 * - fetch, then build: every distfile fetched first into the master's cache
 *   by herd's own DistCache (fetchJobs 4, as the build uses), then `herd
 *   build`, which fetches nothing (the figure is the sum).
 * Printed: bytes and requests the site served (goal: each file once), bytes
 * shipped to each host (the files in its DISTDIR after the build), times.
 *
 * Needs root, iproute2 (ip, tc) and openssh-server.
 * Usage: npx tsc -p . && node dist/bench/distfiles.js [--mb 200] [--pkgs 20] [--link 1e6] [--site 4e6]
 */
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DistCache } from "../src/bulk/distfiles.js";
import {
  netnsUnavailable,
  startNetnsHost,
  type NetnsHost,
} from "../tests/integration/netns-support.js";
import { addPackage, outcomes } from "../tests/lib/distpkg.js";
import { buildArgs, herdJson, sandbox, type Sandbox } from "../tests/lib/fixture.js";
import { flag } from "./lib/measure.js";

const MB = flag("mb", 200);
const PKGS = flag("pkgs", 20);
const LINK = flag("link", 1e6);
const SITE = flag("site", 4e6);
const HOSTS = 3;

const why = netnsUnavailable();
if (why !== null) {
  console.log(`bench/distfiles: cannot run here: ${why}`);
  process.exit(0);
}

// The distfiles, served from memory at SITE bytes/s per response.
const size = Math.floor((MB * 1e6) / PKGS);
const files = Array.from({ length: PKGS }, (_, i) => ({
  name: `dbench${i}`,
  file: `big${i}.bin`,
  body: randomBytes(size),
}));
const byPath = new Map(files.map((f) => [`/site/${f.file}`, f.body]));
let servedBytes = 0;
const requests = new Map<string, number>();
const server = createServer((req, res) => {
  const url = req.url ?? "";
  requests.set(url, (requests.get(url) ?? 0) + 1);
  const body = byPath.get(url);
  if (body === undefined) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.writeHead(200, { "content-length": String(body.length) });
  const chunk = 64 * 1024;
  let at = 0;
  const tick = setInterval(
    () => {
      if (res.destroyed) {
        clearInterval(tick);
        return;
      }
      const piece = body.subarray(at, at + chunk);
      at += piece.length;
      servedBytes += piece.length;
      res.write(piece);
      if (at >= body.length) {
        clearInterval(tick);
        res.end();
      }
    },
    (chunk / SITE) * 1000,
  );
  res.on("close", () => {
    clearInterval(tick);
  });
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const site = `http://127.0.0.1:${(server.address() as AddressInfo).port}/site/`;

function setUp(label: string): { box: Sandbox; list: string } {
  const box = sandbox(`bd-${label.slice(0, 1)}`);
  for (const [i, f] of files.entries())
    addPackage(box.tree, {
      name: f.name,
      file: f.file,
      body: f.body,
      sites: [site],
      // Chains of four: dbench1 needs dbench0, dbench2 needs dbench1, ...
      ...(i % 4 === 0
        ? {}
        : { depends: `${files[i - 1]!.name}>=1.0:../../distf/${files[i - 1]!.name}` }),
      extra: "do-configure:\n\tsleep 3\n",
      // A small program: the packages, shipped as dependencies, stay small.
      buildCmd: `head -c 200 ${f.file} > ${f.name}`,
    });
  const list = join(box.dir, "pkgs.txt");
  writeFileSync(list, files.map((f) => `distf/${f.name}\n`).join(""));
  return { box, list };
}

function dirBytes(dir: string): number {
  let n = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
      if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  } catch {
    /* nothing there */
  }
  return n;
}

interface Outcome {
  readonly seconds: number;
  readonly fetchSeconds: number;
  readonly built: number;
  readonly siteBytes: number;
  readonly siteRequests: number;
  readonly maxPerFile: number;
  readonly shipped: number[];
}

async function run(mode: "overlapped" | "fetch-then-build", hosts: NetnsHost[]): Promise<Outcome> {
  const { box, list } = setUp(mode);
  const work = join(box.dir, "work");
  const hostsFile = join(box.dir, "hosts.txt");
  writeFileSync(
    hostsFile,
    hosts
      .map(
        (h, i) =>
          `far${i + 1} ssh root@${h.address} slots=1 root=${join(box.dir, `far${i + 1}`)} identity=${h.identity} known_hosts=${h.knownHosts}\n`,
      )
      .join(""),
  );
  servedBytes = 0;
  requests.clear();
  const t0 = performance.now();
  let fetchSeconds = 0;
  if (mode === "fetch-then-build") {
    const cache = new DistCache({ dir: join(work, "distfiles"), tree: box.tree, jobs: 4 });
    const all = await Promise.all(
      files.map((f) =>
        cache.ensure(
          { name: `${f.name}-1.0/${f.file}`, sites: [site] },
          join(box.tree, "distf", f.name, "distinfo"),
        ),
      ),
    );
    cache.close();
    const bad = all.find((r) => !r.ok);
    if (bad !== undefined) throw new Error(`prefetch failed: ${bad.error}`);
    fetchSeconds = (performance.now() - t0) / 1000;
  }
  const r = await herdJson(["build", ...buildArgs(box, work, hostsFile, list)], 1_800_000);
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0)
    throw new Error(
      `${mode}: herd build exited ${String(r.code)}: ${r.stderr.slice(-2000)} ${JSON.stringify(r.events.filter((e) => e.type === "host" || e.type === "warning")).slice(0, 3000)}`,
    );
  const built = [...outcomes(r.events).values()].filter((v) => v === "built").length;
  const result: Outcome = {
    seconds,
    fetchSeconds,
    built,
    siteBytes: servedBytes,
    siteRequests: [...requests.values()].reduce((a, b) => a + b, 0),
    maxPerFile: Math.max(0, ...requests.values()),
    shipped: hosts.map((_, i) => dirBytes(join(box.dir, `far${i + 1}`, "distfiles"))),
  };
  rmSync(box.dir, { recursive: true, force: true });
  return result;
}

const hosts: NetnsHost[] = [];
const scratch = sandbox("bench-distfiles-keys").dir;
const deadline = setTimeout(() => {
  console.log("bench/distfiles: stopped after 40 minutes");
  process.exit(1);
}, 40 * 60_000);
try {
  for (let i = 0; i < HOSTS; i++) {
    const h = await startNetnsHost(join(scratch, `sshd${i + 1}`), i + 1);
    h.throttle(LINK);
    hosts.push(h);
  }
  console.log(
    `${PKGS} packages, ${files.length} distfiles of ${(size / 1e6).toFixed(1)} MB (${((size * PKGS) / 1e6).toFixed(0)} MB in all); ` +
      `${HOSTS} ssh hosts in network namespaces, master-to-host links at ${(LINK / 1e6).toFixed(2)} MB/s (tc tbf); ` +
      `the site sends each response at ${(SITE / 1e6).toFixed(1)} MB/s; configure sleeps 3 s per package`,
  );
  const rows: [string, Outcome][] = [];
  for (const mode of ["overlapped", "fetch-then-build"] as const) {
    const o = await run(mode, hosts);
    rows.push([mode, o]);
    console.log(`${mode}: done in ${o.seconds.toFixed(1)} s`);
  }
  console.log(
    "\nrun               built  site MB  requests  max/file  shipped MB per host       fetch (s)  total (s)",
  );
  for (const [mode, o] of rows)
    console.log(
      `${mode.padEnd(17)} ${String(o.built).padStart(5)} ${(o.siteBytes / 1e6).toFixed(1).padStart(8)} ${String(o.siteRequests).padStart(9)} ${String(o.maxPerFile).padStart(9)}  ${o.shipped
        .map((b) => (b / 1e6).toFixed(1))
        .join(" / ")
        .padEnd(24)} ${o.fetchSeconds.toFixed(1).padStart(9)} ${o.seconds.toFixed(1).padStart(10)}`,
    );
  const [a, b] = [rows[0]![1], rows[1]![1]];
  console.log(
    `\noverlapped / fetch-then-build wall time: ${(a.seconds / b.seconds).toFixed(2)}; shipped in all ${(a.shipped.reduce((x, y) => x + y, 0) / 1e6).toFixed(1)} MB (each distfile goes to the one host that builds its package)`,
  );
} finally {
  clearTimeout(deadline);
  for (const h of hosts) await h.stop();
  server.closeAllConnections();
  server.close();
  rmSync(scratch, { recursive: true, force: true });
}
