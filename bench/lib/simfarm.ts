/**
 * A farm of simulated build hosts that dial in to a running `herd build` as
 * attach hosts (the transport of hosts behind NAT), in a process of their
 * own, so the master runs exactly the code operators run and its CPU and
 * memory are its own. Each host speaks the real agent protocol
 * (src/hosts/fake.ts) and answers the tasks the master sends from a
 * simulated pkgsrc (simpkgsrc.ts): `bmake pbulk-index` with the real scan of
 * the directory, every make target after its history duration times the
 * time scale, `make package` with a small real binary package, failures
 * where injected. Its copy of the tree is the master's current one (it
 * answers the tree id the master's tree holds), so hosts never sync.
 *
 * A host whose link ends (the master was killed, or dropped it) dials in
 * again until the farm is stopped: a resumed master finds its hosts back.
 *
 * The farm measures the master's dispatch latency as bench/scale.ts does:
 * for each package, from the moment it could start on the host that got it
 * (that host's previous task answered, and every dependency's package made)
 * to its first task (Init) reaching the host.
 *
 * Usage: node dist/bench/lib/simfarm.js --work DIR --tree DIR --hosts N
 *   [--scale 0.005] [--fail-rate 0.05] [--seed 1] [--only FILE] [--stats FILE]
 *   [--max-seconds 3600]
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  FakeTransport,
  type FakeHandler,
  type FakeOutcome,
  type FakeRun,
} from "../../src/hosts/fake.js";
import { connectMaster, readFirstLine } from "../../src/hosts/socket.js";
import { HOST, workPaths } from "../../src/bulk/layout.js";
import { atFraction } from "./measure.js";
import { DATA_2026, readZst, simPackage, simPkgsrc, type SimPkgsrc } from "./simpkgsrc.js";

const TREE_ID_FILE = ".herd-tree-id";
const HOST_TREE = "pkgsrc";

/** The farm's view of time and of the master's dispatching. */
interface FarmStats {
  /** Per package: when its package file was made (ms, performance.now). */
  readonly made: Map<string, number>;
  /** Every package start seen: when its Init came, the host's answer before it, its dependencies. */
  readonly starts: Start[];
  tasks: number;
  scans: number;
  links: number;
}

interface Start {
  readonly pkgname: string;
  /** The host it started on. */
  readonly host: string;
  /** When its Init reached the host (ms). */
  readonly init: number;
  /** When the host had answered its previous task (-1: none). */
  readonly prev: number;
  installs: readonly string[];
}

/**
 * A host's files: the tree id always reads as the master tree's current one,
 * and the packages the master sends into the host's cache are taken (the put
 * is answered as the agent would) but not kept: nothing reads them back.
 */
class HostFiles extends Map<string, Buffer> {
  private readonly cacheDir: string;

  constructor(
    private readonly idPath: string,
    private readonly tree: string,
    root: string,
  ) {
    super();
    this.cacheDir = `${root}/${HOST.cache}/`;
  }

  override set(key: string, value: Buffer): this {
    if (key.startsWith(this.cacheDir)) return this;
    return super.set(key, value);
  }
  override get(key: string): Buffer | undefined {
    if (key === this.idPath) {
      try {
        return readFileSync(join(this.tree, TREE_ID_FILE));
      } catch {
        return undefined;
      }
    }
    return super.get(key);
  }
}

interface SlotWatch {
  /** When the host last answered a task of a package (ms; -1: none on this link yet). */
  lastAnswer: number;
  /** Init of a package whose name is not known yet (Vars tells), and the answer before it. */
  pendingInit: { init: number; prev: number } | null;
  /** The package under way. */
  current: Start | null;
}

function handlerFor(
  name: string,
  sim: SimPkgsrc,
  scale: number,
  root: string,
  stats: FarmStats,
): { handler: FakeHandler; newLink: () => void } {
  const watch: SlotWatch = { lastAnswer: -1, pendingInit: null, current: null };
  // The answers before a host's first package (the scan, the master's resolve and plan) do not count.
  let building = false;
  const wait = (seconds: number, signal: AbortSignal): Promise<void> =>
    new Promise((res) => {
      const ms = seconds * scale * 1000;
      if (ms <= 0) {
        res();
        return;
      }
      const t = setTimeout(res, ms);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        res();
      });
    });
  const treeDir = `${root}/${HOST_TREE}/`;
  const answer = <T>(v: T): T => {
    if (building) watch.lastAnswer = performance.now();
    return v;
  };
  const pkgOf = (run: FakeRun): { pkgpath: string; pkgname: string } | undefined => {
    if (!run.cwd.startsWith(treeDir)) return undefined;
    const pkgpath = run.cwd.slice(treeDir.length);
    const dir = sim.dirs.get(pkgpath);
    if (dir === undefined) return undefined;
    const args = run.argv.slice(1).filter((a) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(a));
    const pkgname = dir.names.get(args.join(" "));
    return pkgname === undefined ? undefined : { pkgpath, pkgname };
  };
  // `bmake pbulk-index` in one directory: the real scan of it, after the scan's time.
  const scanDir = async (
    pkgpath: string,
    signal: AbortSignal,
  ): Promise<{ status: number; output: Buffer; stderr: string }> => {
    stats.scans++;
    const dir = sim.dirs.get(pkgpath);
    await wait(sim.seconds("", "scan"), signal);
    return dir === undefined
      ? { status: 1, output: Buffer.alloc(0), stderr: "make: no Makefile here\n" }
      : { status: 0, output: dir.index, stderr: "" };
  };
  const handler = async (run: FakeRun, signal: AbortSignal): Promise<FakeOutcome> => {
    stats.tasks++;
    const argv = run.argv;
    const cmd = argv[0] ?? "";
    if (cmd === "sh" && argv[3] === "herd-scan-batch") {
      // A scan batch (src/bulk/scan-batch.ts): pbulk-index in each directory, each
      // answer followed by the nonce and its status on stdout, the nonce on stderr.
      const nonce = argv[4] ?? "";
      const out: Buffer[] = [];
      let err = "";
      for (const d of (argv[5] ?? "").split(" ")) {
        const one = await scanDir(d, signal);
        out.push(one.output, Buffer.from(`\n${nonce} ${one.status}\n`));
        err += `${one.stderr}\n${nonce}\n`;
      }
      return answer({ status: 0, output: Buffer.concat(out), stderr: err });
    }
    if (cmd === "sh") {
      // Init (herd-init) empties the slot: the first task of a package.
      if (argv[3] === "herd-init") {
        watch.pendingInit = { init: performance.now(), prev: watch.lastAnswer };
        building = true;
        await wait(sim.seconds("", "Init"), signal);
      }
      return answer({ status: 0 });
    }
    if (cmd === "pkg_add") {
      if (watch.current !== null)
        watch.current.installs = argv
          .slice(1)
          .map((f) => f.slice(f.lastIndexOf("/") + 1).replace(/\.tgz$/, ""));
      await wait(0.1 * (argv.length - 1), signal);
      return answer({ status: 0 });
    }
    if (cmd === "pkg_info" || cmd === "pkg_delete") return answer({ status: 0 });
    // Anything else is make, in a package directory.
    const pkg = pkgOf(run);
    if (argv.includes("pbulk-index"))
      return answer(await scanDir(run.cwd.slice(treeDir.length), signal));
    if (pkg === undefined)
      return answer({ status: 2, output: `make: don't know how to make ${argv.join(" ")}\n` });
    const target = argv.at(-1) ?? "";
    if (argv.includes("-V")) {
      // Vars: the package is known from here on; its Init started it.
      const init = watch.pendingInit;
      watch.pendingInit = null;
      if (init !== null) {
        watch.current = { pkgname: pkg.pkgname, host: name, ...init, installs: [] };
        stats.starts.push(watch.current);
      }
      await wait(sim.seconds(pkg.pkgpath, "Vars"), signal);
      return answer({ status: 0, output: `${pkg.pkgname}\n` });
    }
    await wait(sim.seconds(pkg.pkgpath, target), signal);
    if (sim.failure(pkg.pkgname, pkg.pkgpath) === target)
      return answer({
        status: 1,
        output: `===> ${target} for ${pkg.pkgname}\nsim.c:1:1: error: simulated failure of ${pkg.pkgname} at ${target}\n*** Error code 1\n`,
      });
    if (target === "package") {
      const packages = run.env.get("PACKAGES") ?? `${root}/packages`;
      run.files.set(`${packages}/All/${pkg.pkgname}.tgz`, simPackage(pkg.pkgname, pkg.pkgpath));
      stats.made.set(pkg.pkgname, performance.now());
    }
    return answer({ status: 0, output: `===> ${target} for ${pkg.pkgname}\n` });
  };
  const newLink = (): void => {
    building = false;
    watch.lastAnswer = -1;
    watch.pendingInit = null;
    watch.current = null;
  };
  return { handler, newLink };
}

/** Keeps one host dialled in to the master's socket until `stopped()` says so. */
async function dialLoop(
  name: string,
  socketPath: string,
  transport: FakeTransport,
  newLink: () => void,
  stopped: () => boolean,
  stats: FarmStats,
): Promise<void> {
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  while (!stopped()) {
    let sock: Socket;
    try {
      sock = await connectMaster(socketPath, `attach ${name}`);
    } catch {
      await pause(200);
      continue;
    }
    // A master killed mid-sentence resets the socket: that ends this link, not the farm.
    sock.on("error", () => undefined);
    // Heard from now on: the link may close while the transport opens.
    const closed = new Promise<void>((res) =>
      sock.once("close", () => {
        res();
      }),
    );
    const verdict = await new Promise<{ line: string | null; rest: Buffer }>((res) => {
      readFirstLine(sock, (line, rest) => {
        res({ line, rest });
      });
    });
    if (verdict.line !== "ok") {
      sock.destroy();
      await pause(500);
      continue;
    }
    const opened = await transport.open();
    if (!opened.ok) {
      sock.destroy();
      continue;
    }
    stats.links++;
    newLink();
    const ch = opened.value;
    if (verdict.rest.length > 0) ch.input.write(verdict.rest);
    sock.pipe(ch.input);
    ch.output.pipe(sock);
    await closed;
    ch.destroy();
  }
}

/**
 * Per package start: from when it could start there (the host's previous
 * answer, every dependency's package made; the later) to its Init reaching
 * the host. A host's first package with no dependencies has no such moment.
 */
function dispatchLatencies(stats: FarmStats): number[] {
  const out: number[] = [];
  for (const s of stats.starts) {
    let ready = s.prev;
    for (const d of s.installs) ready = Math.max(ready, stats.made.get(d) ?? -1);
    if (ready >= 0 && ready <= s.init) out.push(s.init - ready);
  }
  return out;
}

/**
 * The farm's view for bench/latency.ts, times in ms on the machine's
 * high-resolution wall clock (comparable with the master's HERD_TRACE).
 */
function writeTrace(file: string, stats: FarmStats, stalls: readonly [number, number][]): void {
  const at = (t: number): number =>
    t < 0 ? -1 : Math.round((performance.timeOrigin + t) * 100) / 100;
  writeFileSync(
    file,
    JSON.stringify({
      starts: stats.starts.map((s) => ({
        pkgname: s.pkgname,
        host: s.host,
        init: at(s.init),
        prev: at(s.prev),
        installs: s.installs,
      })),
      made: Object.fromEntries([...stats.made].map(([n, t]) => [n, at(t)])),
      stalls: stalls.map(([t, ms]) => [at(t), Math.round(ms * 100) / 100]),
    }) + "\n",
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      work: { type: "string" },
      tree: { type: "string" },
      hosts: { type: "string", default: "10" },
      prefix: { type: "string", default: "sim" },
      scale: { type: "string", default: "0.005" },
      "fail-rate": { type: "string", default: "0.05" },
      seed: { type: "string", default: "1" },
      only: { type: "string" },
      stats: { type: "string" },
      trace: { type: "string" },
      "max-seconds": { type: "string", default: "3600" },
    },
  });
  if (values.work === undefined || values.tree === undefined)
    throw new Error("usage: simfarm --work DIR --tree DIR --hosts N");
  const only =
    values.only === undefined
      ? undefined
      : new Set(
          readFileSync(values.only, "utf8")
            .split("\n")
            .filter((l) => l !== ""),
        );
  const sim = simPkgsrc({
    scan: readZst(join(DATA_2026, "pscan.zst")),
    history: readZst(join(DATA_2026, "history-bulk-large.zst")).toString("utf8"),
    failRate: Number(values["fail-rate"]),
    seed: values.seed,
    ...(only === undefined ? {} : { only }),
  });
  const stats: FarmStats = { made: new Map(), starts: [], tasks: 0, scans: 0, links: 0 };
  // The farm's own event-loop stalls (a timer due every 5 ms, late by more than 5 ms), with --trace.
  const stalls: [number, number][] = [];
  if (values.trace !== undefined) {
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      if (now - last > 10) stalls.push([last, now - last - 5]);
      last = now;
    }, 5).unref();
  }
  let stop = false;
  const socketPath = workPaths(values.work).control;
  const n = Number(values.hosts);
  const scale = Number(values.scale);
  const loops: Promise<void>[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `${values.prefix}${i}`;
    const root = `/sim/${name}`;
    const h = handlerFor(name, sim, scale, root, stats);
    const transport = new FakeTransport({
      root,
      files: new HostFiles(`${root}/${HOST_TREE}/${TREE_ID_FILE}`, values.tree, root),
      handler: h.handler,
    });
    loops.push(dialLoop(name, socketPath, transport, h.newLink, () => stop, stats));
  }
  // Written once, at the end (SIGTERM from bench/lib/fullscale-run.ts, or --max-seconds). It was
  // written every 2 s as well: every start's latency again and the whole trace, which grew with
  // the build and stalled the farm for longer and longer.
  const report = (): void => {
    const latency = dispatchLatencies(stats).sort((a, b) => a - b);
    const figures = {
      hosts: n,
      tasks: stats.tasks,
      scans: stats.scans,
      starts: stats.starts.length,
      links: stats.links,
      dispatchMs: {
        n: latency.length,
        p50: atFraction(latency, 0.5),
        p99: atFraction(latency, 0.99),
        max: atFraction(latency, 1),
      },
    };
    if (values.stats !== undefined) writeFileSync(values.stats, JSON.stringify(figures) + "\n");
    if (values.trace !== undefined) writeTrace(values.trace, stats, stalls);
  };
  const end = (): void => {
    stop = true;
    report();
    process.exit(0);
  };
  process.on("SIGTERM", end);
  process.on("SIGINT", end);
  setTimeout(end, Number(values["max-seconds"]) * 1000).unref();
  process.stdout.write(`simfarm: ${n} hosts, ${sim.dirs.size} directories\n`);
  await Promise.all(loops);
}

if (process.argv[1]?.endsWith("simfarm.js") === true) await main();
