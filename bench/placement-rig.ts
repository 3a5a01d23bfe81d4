/**
 * Transfer-aware placement on the rig: a real `herd build` of the fixture
 * tree on one local host beside the master and two far hosts (sshd in a
 * network namespace each, behind a link throttled both ways with tc tbf,
 * and with --loss and --delay made lossy and distant: nftables drops that
 * percentage of packets at random each way, a relay in the namespace holds
 * the ssh byte stream that many ms each way; see netns-support.ts),
 * once with placement counting what starting a package on a host costs
 * (`transferAware`, the default) and once blind to it (work and speed only).
 *
 * Dependencies must weigh something for links to matter: in this run's copy
 * of the tree devel/libbase, on which most packages build, installs
 * --pad-kb of random bytes (incompressible), so each host that builds one
 * of its dependents is sent that much first. Each build starts from an
 * empty work directory (nothing remembered of earlier sends) but for the
 * hosts' link speeds and install times the warm-up build measured
 * (WORK/host-figures), as a master that built on these hosts before knows
 * them; the host copies of the tree are synced once, by that warm-up.
 *
 * Prints per run: the build phase (s), packages and bytes sent to the far
 * hosts, the far hosts' Depends time, and what each host built; at the end,
 * the packets the far links dropped and the bytes their relays passed on.
 *
 * Usage (as root): npx tsc -p . && node dist/bench/placement-rig.js [--pad-kb 4096] [--link 200000] [--loss 0] [--delay 0] [--sleep 4] [--rounds 2]
 */
import { cpSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import {
  netnsUnavailable,
  startNetnsHost,
  type NetnsHost,
} from "../tests/integration/netns-support.js";
import { buildArgs, herdJson, sandbox, stamp, type Event } from "../tests/lib/fixture.js";
import { flag, median } from "./lib/measure.js";

const PAD_KB = flag("pad-kb", 4096);
const LINK = flag("link", 200_000);
const LOSS = flag("loss", 0);
const DELAY = flag("delay", 0);
const SLEEP = flag("sleep", 4);
const ROUNDS = flag("rounds", 2);
const FAR = 2;

const why = netnsUnavailable();
if (why !== null) {
  console.log(`bench/placement-rig: cannot run here: ${why}`);
  process.exit(0);
}

const at = (e: Event): number => Date.parse(e.time as string);
const f1 = (x: number): string => x.toFixed(1);

/** libbase installs PAD_KB of random bytes: every package built on it is sent that much. */
function padLibbase(tree: string): void {
  const dir = join(tree, "devel/libbase");
  const mk = join(dir, "Makefile");
  writeFileSync(
    mk,
    readFileSync(mk, "utf8").replace(
      /^\.include "\.\.\/\.\.\/mk\/bsd\.pkg\.mk"/m,
      [
        "do-install:",
        "\t${_MAKE_CMD} DESTDIR=${DESTDIR:Q} ${INSTALL_TARGET}",
        "\tmkdir -p ${DESTDIR}${PREFIX}/share/libbase",
        "\tdd if=/dev/urandom of=${DESTDIR}${PREFIX}/share/libbase/pad bs=1024 count=${FIXTURE_PAD_KB:U0} 2>/dev/null",
        "",
        '.include "../../mk/bsd.pkg.mk"',
      ].join("\n"),
    ),
  );
  writeFileSync(
    join(dir, "PLIST"),
    `${readFileSync(join(dir, "PLIST"), "utf8")}share/libbase/pad\n`,
  );
  stamp(tree);
}

interface Run {
  readonly buildPhase: number;
  readonly farPackages: number;
  readonly farBytes: number;
  readonly farDepends: number;
  readonly byHost: Map<string, string[]>;
}

/** What the Depends logs of the run say was sent: bytes per package's host. */
function sentBytes(work: string, hostOf: ReadonlyMap<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  const logs = join(work, "logs");
  for (const pkg of readdirSync(logs)) {
    const f = join(logs, pkg, "Depends.log");
    const host = hostOf.get(pkg);
    if (host === undefined || !existsSync(f)) continue;
    for (const m of readFileSync(f, "latin1").matchAll(/^sent \S+ \((\d+) bytes/gm))
      out.set(host, (out.get(host) ?? 0) + Number(m[1]));
  }
  return out;
}

const box = sandbox("placement-rig", {
  env: { FIXTURE_SLEEP: String(SLEEP), FIXTURE_PAD_KB: String(PAD_KB) },
});
padLibbase(box.tree);
const far: NetnsHost[] = [];
try {
  for (let i = 0; i < FAR; i++) {
    const h = await startNetnsHost(join(box.dir, `sshd${String(i)}`), i, { delayMs: DELAY });
    h.throttleBoth(LINK);
    if (LOSS > 0) h.lose(LOSS);
    far.push(h);
  }
  const hosts = join(box.dir, "hosts.txt");
  writeFileSync(
    hosts,
    [
      `near local ${join(box.dir, "near")}`,
      ...far.map(
        (h, i) =>
          `far${String(i + 1)} ssh root@${h.address} root=${join(box.dir, `far${String(i + 1)}`)} identity=${h.identity} known_hosts=${h.knownHosts}`,
      ),
      "",
    ].join("\n"),
  );
  const cfgBase = JSON.parse(readFileSync(box.config, "utf8")) as Record<string, unknown>;
  const once = async (name: string, aware: boolean): Promise<Run> => {
    writeFileSync(box.config, JSON.stringify({ ...cfgBase, transferAware: aware }));
    const work = join(box.dir, `work-${name}`);
    if (name !== "warmup")
      cpSync(join(box.dir, "work-warmup", "host-figures"), join(work, "host-figures"), {
        recursive: true,
      });
    const r = await herdJson(["build", ...buildArgs(box, work, hosts)], 3_600_000);
    if (r.code !== 0 && r.code !== 1)
      throw new Error(`herd build (${name}) failed: ${r.stderr.slice(-2000)}`);
    const phase = (p: string): number => {
      const e = r.events.find((x) => x.type === "phase" && x.phase === p);
      if (e === undefined) throw new Error(`no ${p} phase`);
      return at(e);
    };
    const hostOf = new Map<string, string>();
    const byHost = new Map<string, string[]>();
    let farDepends = 0;
    for (const e of r.events) {
      if (e.type === "package-end" && e.result !== "lost") {
        hostOf.set(e.pkgname as string, e.host as string);
        const l = byHost.get(e.host as string) ?? [];
        l.push(e.pkgname as string);
        byHost.set(e.host as string, l);
      }
      if (e.type === "stage" && e.stage === "Depends" && String(e.host).startsWith("far"))
        farDepends += (e.wallMs as number) / 1000;
    }
    const sent = sentBytes(work, hostOf);
    let farBytes = 0;
    for (const [h, b] of sent) if (h.startsWith("far")) farBytes += b;
    return {
      buildPhase: (phase("report") - phase("build")) / 1000,
      farPackages: [...hostOf.values()].filter((h) => h.startsWith("far")).length,
      farBytes,
      farDepends,
      byHost,
    };
  };
  console.log(
    `bench/placement-rig: near (local) + ${String(FAR)} far hosts at ${String(LINK)} B/s each way, ${String(LOSS)} % loss each way, ${String(DELAY)} ms delay each way; libbase pads ${String(PAD_KB)} KB; FIXTURE_SLEEP=${String(SLEEP)}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  // Every host's copy of the tree, synced once.
  await once("warmup", true);
  console.log(
    `measured by the warm-up: ${readdirSync(join(box.dir, "work-warmup", "host-figures"))
      .map(
        (f) =>
          `${f.replace(/\.json$/, "")} ${readFileSync(join(box.dir, "work-warmup", "host-figures", f), "utf8")}`,
      )
      .join("; ")}`,
  );
  console.log(
    "| round | placement | build phase (s) | packages on far hosts | bytes sent to far hosts | far Depends (s) |",
  );
  console.log("|---|---|---|---|---|---|");
  const all: { aware: boolean; run: Run }[] = [];
  for (let k = 1; k <= ROUNDS; k++) {
    // Alternate which goes first, so a drift in the machine's load falls on both.
    const order = k % 2 === 1 ? [true, false] : [false, true];
    for (const aware of order) {
      const run = await once(`${aware ? "aware" : "blind"}-${String(k)}`, aware);
      all.push({ aware, run });
      console.log(
        `| ${String(k)} | ${aware ? "transfer-aware" : "blind"} | ${f1(run.buildPhase)} | ${String(run.farPackages)} | ${(run.farBytes / 1e6).toFixed(2)} MB | ${f1(run.farDepends)} |`,
      );
      console.log(`    ${[...run.byHost].map(([h, p]) => `${h}: ${p.join(" ")}`).join("; ")}`);
    }
  }
  for (const aware of [true, false])
    console.log(
      `${aware ? "transfer-aware" : "blind"}: median build phase ${f1(median(all.filter((a) => a.aware === aware).map((a) => a.run.buildPhase)))} s`,
    );
  console.log(
    `far links, all runs: ${far.map((h, i) => `far${String(i + 1)} dropped ${String(h.dropped())} packets, relayed ${String(h.relayed())} bytes`).join("; ")}`,
  );
} finally {
  for (const h of far) await h.stop();
}
