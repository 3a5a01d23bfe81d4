/**
 * Transfer throughput of the agent protocol: master → host (acknowledged dd
 * chunks) and host → master (cat), over the local transport and, when run as
 * root with sshd installed, over ssh to a loopback sshd.
 * Run: npx tsc -p . && node dist/bench/transfer.js [MB]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { AgentConnection } from "../src/hosts/connection.js";
import { getBuffer } from "../src/hosts/get.js";
import { LocalTransport } from "../src/hosts/local.js";
import { SshTransport } from "../src/hosts/ssh.js";
import type { Transport } from "../src/hosts/transport.js";
import { sshdUnavailable, startSshd, type TestSshd } from "../tests/integration/sshd-support.js";

const mb = Number(process.argv[2] ?? "32");
const data = randomBytes(mb * 1024 * 1024);

async function bench(shell: readonly string[], chunkSize: number, sshd?: TestSshd): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "herd-bench-"));
  try {
    const t: Transport =
      sshd === undefined
        ? new LocalTransport({ root, shell })
        : new SshTransport({
            address: `root@127.0.0.2:${sshd.port}`,
            root,
            shell,
            controlDir: join(root, "ctl"),
            identity: sshd.identity,
            knownHosts: sshd.knownHosts,
          });
    const ch = await t.open();
    if (!ch.ok) throw new Error(ch.error.message);
    const c = await AgentConnection.open(ch.value, { chunkSize });
    if (!c.ok) throw new Error(c.error.message);
    const conn = c.value;
    let t0 = performance.now();
    const put = await conn.put("blob", data);
    const putS = (performance.now() - t0) / 1000;
    if (!put.ok) throw new Error(put.error.message);
    t0 = performance.now();
    const got = await getBuffer(conn, "blob");
    const getS = (performance.now() - t0) / 1000;
    if (!got.ok || !got.value.equals(data)) throw new Error("get failed");
    const name = `${sshd === undefined ? "local" : "ssh  "} ${shell.join(" ").padEnd(10)}`;
    const chunk = `${chunkSize / 1024} KiB`.padStart(8);
    console.log(
      `${name} chunk ${chunk}  put ${(mb / putS).toFixed(1).padStart(6)} MB/s   get ${(mb / getS).toFixed(1).padStart(6)} MB/s`,
    );
    await conn.close();
    await t.dispose?.();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

console.log(`${mb} MiB of random data, host directory in ${tmpdir()}`);
const CHUNKS = [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
for (const shell of [["dash"], ["busybox", "sh"]]) {
  for (const chunk of CHUNKS) await bench(shell, chunk);
}
const why = sshdUnavailable();
if (why === null) {
  const dir = mkdtempSync(join(tmpdir(), "herd-bench-sshd-"));
  const sshd = await startSshd(dir, ["127.0.0.2"]);
  try {
    for (const shell of [["dash"], ["busybox", "sh"]]) {
      for (const chunk of CHUNKS.slice(1)) await bench(shell, chunk, sshd);
    }
  } finally {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  console.log(`ssh: skipped (${why})`);
}
