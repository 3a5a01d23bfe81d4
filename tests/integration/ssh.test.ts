import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AgentConnection } from "../../src/hosts/connection.js";
import { getBuffer } from "../../src/hosts/get.js";
import { CONTROL_DIR_MAX, controlDirFor } from "../../src/hosts/remote.js";
import { SshTransport } from "../../src/hosts/ssh.js";
import { stampTree, syncTree } from "../../src/hosts/treesync/treesync.js";
import { tempDir } from "./agent-support.js";
import { eventually, herd, scanTree } from "./cli-support.js";
import { sshdUnavailable, startSshd } from "./sshd-support.js";
import { sampleTree, snapshotTree, syncSkips } from "./tree-support.js";

const skip = sshdUnavailable();

describe("ssh transport against a real sshd", { skip: skip ?? false, timeout: 120_000 }, () => {
  test("a long work directory keeps its control sockets where ssh can bind them", async () => {
    const tmp = tempDir("ssh-long");
    const sshd = await startSshd(join(tmp.path, "sshd"), ["127.0.0.2"]);
    // WORK/ssh a few characters longer than a socket directory may be.
    const work = join(tmp.path, "w".repeat(Math.max(1, CONTROL_DIR_MAX - tmp.path.length)));
    const open = async (controlDir: string): Promise<string | null> => {
      const t = new SshTransport({
        address: `root@127.0.0.2:${sshd.port}`,
        root: join(tmp.path, "root"),
        controlDir,
        identity: sshd.identity,
        knownHosts: sshd.knownHosts,
        connectTimeout: 30,
      });
      const ch = await t.open();
      if (!ch.ok) return ch.error.message;
      const c = await AgentConnection.open(ch.value, { helloTimeoutMs: 60_000 });
      if (!c.ok) return c.error.message;
      await c.value.close();
      return null;
    };
    try {
      // ssh itself refuses WORK/ssh here...
      assert.match((await open(join(work, "ssh"))) ?? "connected", /too long/);
      // ... so herd puts them elsewhere, and the host connects.
      assert.notEqual(controlDirFor(work), join(work, "ssh"));
      assert.equal(await open(controlDirFor(work)), null);
    } finally {
      await sshd.stop();
      tmp.remove();
    }
  });

  test("runs the agent, moves files, syncs a tree, and checks host keys", async () => {
    const tmp = tempDir("ssh");
    const sshd = await startSshd(join(tmp.path, "sshd"), ["127.0.0.2"]);
    const controlDir = join(tmp.path, "ctl");
    const transport = (knownHosts: string, root: string, shell?: readonly string[]): SshTransport =>
      new SshTransport({
        address: `root@127.0.0.2:${sshd.port}`,
        root,
        controlDir,
        identity: sshd.identity,
        knownHosts,
        connectTimeout: 30,
        ...(shell === undefined ? {} : { shell }),
      });
    try {
      // An unknown host key is a failed connection: never a prompt, never accepted.
      const stranger = transport(sshd.emptyKnownHosts, join(tmp.path, "never"));
      const ch0 = await stranger.open();
      assert.ok(ch0.ok);
      const refused = await AgentConnection.open(ch0.value, { helloTimeoutMs: 60_000 });
      assert.ok(!refused.ok);
      assert.match(refused.error.message, /Host key verification failed/);
      assert.equal(existsSync(join(tmp.path, "never")), false);

      for (const shell of [["/bin/sh"], ["busybox", "sh"]]) {
        const root = join(tmp.path, `host-${shell.length}`);
        const t = transport(sshd.knownHosts, root, shell);
        const ch = await t.open();
        assert.ok(ch.ok);
        const c = await AgentConnection.open(ch.value, { helloTimeoutMs: 60_000 });
        assert.ok(c.ok, c.ok ? "" : c.error.message);
        const conn = c.value;
        assert.equal(conn.info.root, root);
        const r = await conn.run({
          argv: ["sh", "-c", 'echo "$X" $(pwd)'],
          env: { X: "$(id)" },
          cwd: ".",
        });
        assert.ok(r.ok);
        assert.equal(r.value.output.toString(), `$(id) ${root}\n`);
        const data = randomBytes(3_000_000);
        assert.ok((await conn.put("blob", data)).ok);
        const back = await getBuffer(conn, "blob");
        assert.ok(back.ok && back.value.equals(data));
        // The tree sync runs over the same link.
        const tree = join(tmp.path, "tree");
        if (!existsSync(tree)) sampleTree(tree);
        const id = stampTree(tree);
        const s = await syncTree(conn, { tree, id, dest: "pkgsrc" });
        assert.ok(s.ok && !s.value.skipped);
        assert.deepEqual(
          snapshotTree(join(root, "pkgsrc"), syncSkips),
          snapshotTree(tree, syncSkips),
        );
        const again = await syncTree(conn, { tree, id, dest: "pkgsrc" });
        assert.ok(again.ok && again.value.skipped);
        // The shared connection lives under the control directory.
        assert.equal(readdirSync(controlDir).length, 1);
        await conn.close();
        await t.dispose();
      }
      // ssh -O exit asks the shared connection to stop; it removes its socket as it goes.
      await eventually(
        "the control socket to go",
        () => readdirSync(controlDir).length === 0,
        20_000,
      );
    } finally {
      await sshd.stop();
      tmp.remove();
    }
  });

  test("a cut link is lost: the task it ran fails as lost", async () => {
    const tmp = tempDir("ssh-cut");
    const sshd = await startSshd(join(tmp.path, "sshd"), ["127.0.0.2"]);
    const t = new SshTransport({
      address: `root@127.0.0.2:${sshd.port}`,
      root: join(tmp.path, "host"),
      controlDir: join(tmp.path, "ctl"),
      identity: sshd.identity,
      knownHosts: sshd.knownHosts,
    });
    try {
      const ch = await t.open();
      assert.ok(ch.ok);
      const c = await AgentConnection.open(ch.value);
      assert.ok(c.ok);
      const task = c.value.start({ argv: ["sleep", "60"] });
      while (c.value.hostPid(task.id) === undefined) await new Promise((r) => setTimeout(r, 20));
      // The host's side dies (the agent leads its ssh session's process
      // group): sshd closes the session and the master's ssh exits.
      const state = join(tmp.path, "host", ".herd-agent");
      const pid = Number(readdirSync(state)[0]);
      process.kill(-pid, "SIGKILL");
      const r = await task.result;
      assert.ok(!r.ok);
      assert.equal(r.error.reason, "lost");
      await t.dispose();
    } finally {
      await sshd.stop();
      tmp.remove();
    }
  });

  test("herd scan over two ssh hosts from a hosts file gives the bytes a local scan gives", async () => {
    const tmp = tempDir("ssh-scan");
    const sshd = await startSshd(join(tmp.path, "sshd"), ["127.0.0.2", "127.0.0.3"]);
    try {
      const tree = scanTree(tmp.path, 4);
      assert.equal((await herd(["tree", "stamp", "--tree", tree])).code, 0);
      const local = await herd([
        "scan",
        "--tree",
        tree,
        "--local",
        "1",
        "-w",
        join(tmp.path, "wl"),
      ]);
      const hosts = join(tmp.path, "hosts");
      const common = `identity=${sshd.identity} known_hosts=${sshd.knownHosts} ssh_option=ConnectTimeout=10`;
      writeFileSync(
        hosts,
        [
          `s1 ssh root@127.0.0.2:${sshd.port} root=${join(tmp.path, "s1")} slots=2 ${common}`,
          `s2 ssh root@127.0.0.3:${sshd.port} root=${join(tmp.path, "s2")} shell=busybox ${common}`,
          "",
        ].join("\n"),
      );
      const remote = await herd([
        "scan",
        "--tree",
        tree,
        "--hosts",
        hosts,
        "-w",
        join(tmp.path, "ws"),
        "--json",
      ]);
      assert.equal(remote.code, 1, remote.stderr);
      assert.equal(remote.stdout, local.stdout);
      assert.match(remote.stderr, /"host":"s1","state":"idle"/);
      assert.match(remote.stderr, /"host":"s2","state":"idle"/);
      assert.ok(existsSync(join(tmp.path, "s2", "pkgsrc", ".herd-tree-id")));
    } finally {
      await sshd.stop();
      tmp.remove();
    }
  });
});
