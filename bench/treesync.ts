/**
 * Tree sync: bytes sent to a host (and back) for a first sync, a sync whose
 * tree id matches, and a sync after one file changed, on the fixture tree
 * and, when it is prepared on this machine, the real 2013 pkgsrc tree (a
 * hard-linked copy: the changed file is replaced, never written through);
 * on a local host (tar), and, when this machine can run a loopback sshd
 * (root), on an ssh host by tar and by rsync. "sent" and "received" are
 * tree data (the tar stream and deletion list, the host's listing; or
 * rsync's own totals), "link" all bytes over the agent's link meanwhile.
 *
 * With listings kept on the master (WORK/tree-manifests in a build), a host
 * whose id the master listed before lists nothing: method "known".
 *
 * Usage: node dist/bench/treesync.js [--no-real] [--known-only]
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { AgentConnection } from "../src/hosts/connection.js";
import { hostName } from "../src/core/hostspec.js";
import { LocalTransport } from "../src/hosts/local.js";
import { masterHasRsync } from "../src/hosts/treesync/rsync.js";
import { SshTransport } from "../src/hosts/ssh.js";
import type { Transport } from "../src/hosts/transport.js";
import {
  rsyncRouteFor,
  stampTree,
  syncTree,
  type SyncReport,
} from "../src/hosts/treesync/treesync.js";
import { sshdUnavailable, startSshd, type TestSshd } from "../tests/integration/sshd-support.js";
import { pkgsrc2013Missing, preparePkgsrc2013 } from "../tests/lib/pkgsrc2013.js";

const root = resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-treesync-"));

/** Replaces a file by a new one (safe in a hard-linked copy) with a line appended. */
function touchFile(tree: string, rel: string): number {
  const abs = join(tree, rel);
  const text = `${readFileSync(abs, "utf8")}# changed by bench/treesync\n`;
  writeFileSync(`${abs}.new`, text);
  renameSync(`${abs}.new`, abs);
  return Buffer.byteLength(text);
}

let sshd: TestSshd | undefined;

/** A local host (tar), or an ssh host to a loopback sshd (rsync when asked). */
function transportFor(kind: "local" | "ssh", root: string): Transport {
  if (kind === "local" || sshd === undefined) return new LocalTransport({ root, shell: ["dash"] });
  return new SshTransport({
    address: `root@127.0.0.2:${String(sshd.port)}`,
    root,
    controlDir: join(tmp, "ctl"),
    identity: sshd.identity,
    knownHosts: sshd.knownHosts,
  });
}

async function bench(
  label: string,
  tree: string,
  changed: string,
  kind: "local" | "ssh",
  rsync: boolean,
  known: boolean,
): Promise<void> {
  const host = join(tmp, `host-${String(n++)}`);
  const transport = transportFor(kind, host);
  const ch = await transport.open();
  if (!ch.ok) throw new Error(ch.error.message);
  const c = await AgentConnection.open(ch.value);
  if (!c.ok) throw new Error(c.error.message);
  const conn = c.value;
  const route = rsync
    ? rsyncRouteFor(conn, { name: hostName("h"), transport, slots: 1, speed: 1, tags: [] })
    : undefined;
  if (rsync && route === undefined) throw new Error("no rsync route");
  console.log(
    `\n${label}, ${transport.description}${rsync ? ", rsync" : known ? ", tar, listings kept on the master" : ", tar"}`,
  );
  const manifests = known ? join(tmp, `manifests-${String(n)}`) : undefined;
  console.log(
    "sync                 method    sent (B)  received (B)  link out (B)  link in (B)  files  removed  time (s)",
  );
  const step = async (what: string, id: string): Promise<SyncReport> => {
    const out0 = conn.bytesOut;
    const in0 = conn.bytesIn;
    const t0 = performance.now();
    const r = await syncTree(conn, {
      tree,
      id,
      dest: "pkgsrc",
      ...(route === undefined ? {} : { rsync: route }),
      ...(manifests === undefined ? {} : { manifests }),
    });
    const s = (performance.now() - t0) / 1000;
    if (!r.ok) throw new Error(`${what}: ${r.error}`);
    const v = r.value;
    console.log(
      `${what.padEnd(20)} ${v.method.padEnd(6)} ${String(v.bytes).padStart(11)} ${String(v.received).padStart(13)} ${String(conn.bytesOut - out0).padStart(13)} ${String(conn.bytesIn - in0).padStart(12)} ${String(v.files).padStart(6)} ${String(v.removed).padStart(8)} ${s.toFixed(2).padStart(9)}`,
    );
    return v;
  };
  try {
    await step("first (no copy)", stampTree(tree));
    const id = stampTree(tree);
    // A fresh id, nothing changed: the copy is listed and compared.
    await step("new id, no change", id);
    await step("same id", id);
    const size = touchFile(tree, changed);
    await step(`one file changed`, stampTree(tree));
    console.log(`(the changed file, ${changed}, is ${String(size)} bytes)`);
  } finally {
    await conn.close();
    await transport.dispose?.();
  }
}

let n = 0;

try {
  console.log(
    `${String(availableParallelism())} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; local host (dash)`,
  );
  const noSsh = sshdUnavailable() ?? (masterHasRsync() ? undefined : "no rsync");
  if (noSsh === undefined) sshd = await startSshd(join(tmp, "sshd"), ["127.0.0.2"]);
  else console.log(`(ssh and rsync skipped: ${noSsh})`);
  // [transport, rsync, listings kept on the master]
  const all: ["local" | "ssh", boolean, boolean][] =
    sshd === undefined
      ? [
          ["local", false, false],
          ["local", false, true],
        ]
      : [
          ["local", false, false],
          ["local", false, true],
          ["ssh", false, false],
          ["ssh", false, true],
          ["ssh", true, false],
        ];
  const kinds = process.argv.includes("--known-only") ? all.filter(([, , k]) => k) : all;
  for (const [kind, rsync, known] of kinds) {
    const fixture = join(tmp, `fixture-${String(n)}`);
    cpSync(join(root, "tests/fixtures/tree"), fixture, {
      recursive: true,
      filter: (s) => !/\/work$|\.herd-tree-id$/.test(s),
    });
    await bench("fixture tree", fixture, "devel/libbase/Makefile", kind, rsync, known);
  }

  const missing = process.argv.includes("--no-real") ? "--no-real" : pkgsrc2013Missing();
  if (missing === undefined) {
    for (const [kind, rsync, known] of kinds) {
      const real = join(tmp, `pkgsrc-${String(n)}`);
      const r = spawnSync("cp", ["-al", preparePkgsrc2013().tree, real]);
      if (r.status !== 0) throw new Error(`cp -al failed: ${r.stderr.toString()}`);
      await bench("pkgsrc 2013 tree", real, "mk/bsd.pkg.mk", kind, rsync, known);
    }
  } else console.log(`\n(real pkgsrc tree skipped: ${missing})`);
} finally {
  await sshd?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
