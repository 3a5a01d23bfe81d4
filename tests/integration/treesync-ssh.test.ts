import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { AgentConnection } from "../../src/hosts/connection.js";
import { SshTransport } from "../../src/hosts/ssh.js";
import {
  rsyncRouteFor,
  stampTree,
  syncTree,
  treeSyncPrepare,
  TREE_ID_FILE,
} from "../../src/hosts/treesync/treesync.js";
import { masterHasRsync } from "../../src/hosts/treesync/rsync.js";
import { tempDir } from "./agent-support.js";
import { sshdUnavailable, startSshd } from "./sshd-support.js";
import { snapshotTree, syncSkips, writeTree } from "./tree-support.js";
import { biggerTree } from "./treesync-support.js";

const skip = sshdUnavailable() ?? (masterHasRsync() ? null : "no rsync");

describe("tree sync by rsync over the host's ssh connection", { skip: skip ?? false }, () => {
  test(
    "rsync when both ends have it, the tar delta when it fails",
    { timeout: 120_000 },
    async () => {
      const tmp = tempDir("sync-rsync");
      const sshd = await startSshd(join(tmp.path, "sshd"), ["127.0.0.2"]);
      const controlDir = join(tmp.path, "ctl");
      const root = join(tmp.path, "host dir");
      const transport = new SshTransport({
        address: `root@127.0.0.2:${sshd.port}`,
        root,
        controlDir,
        identity: sshd.identity,
        knownHosts: sshd.knownHosts,
      });
      const tree = join(tmp.path, "tree");
      biggerTree(tree);
      const copy = join(root, "pkgsrc");
      const same = (): void => {
        assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
      };
      let conn: AgentConnection | undefined;
      try {
        const ch = await transport.open();
        assert.ok(ch.ok);
        const c = await AgentConnection.open(ch.value, { helloTimeoutMs: 60_000 });
        assert.ok(c.ok, c.ok ? "" : c.error.message);
        conn = c.value;
        const host = { name: hostName("r1"), transport, slots: 1, speed: 1, tags: [] };
        const route = rsyncRouteFor(conn, host);
        assert.ok(route !== undefined, "the host reports rsync");

        // Through the pool's prepare step, as a build runs it.
        const prepare = treeSyncPrepare(tree, () => ({ dest: "pkgsrc", sync: true }));
        const id1 = stampTree(tree);
        const first = await prepare(conn, host);
        assert.ok(first.ok, JSON.stringify(first));
        assert.match(first.value, /synced: rsync, /);
        same();
        assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id1}\n`);
        // rsync rode the agent's shared connection: one control socket.
        assert.equal(readdirSync(controlDir).length, 1);

        writeTree(root, {
          "pkgsrc/distfiles/keep.tar.gz": "distfile\n",
          "pkgsrc/stale/file": "old\n",
          "pkgsrc/devel/foo/work/leftover": "from a build\n",
          "outside/precious": "keep me\n",
        });
        symlinkSync(join(root, "outside"), join(copy, "cat0/escape"));
        const changed = `${"y".repeat(5000)}\n`;
        writeFileSync(join(tree, "cat1/pkg1/Makefile"), changed);
        rmSync(join(tree, "cat2/pkg2/Makefile"));
        const id2 = stampTree(tree);
        const second = await syncTree(conn, { tree, id: id2, dest: "pkgsrc", rsync: route });
        assert.ok(second.ok, JSON.stringify(second));
        assert.equal(second.value.method, "rsync");
        assert.equal(second.value.note, undefined);
        // The file list (a few dozen bytes an entry) and the changed file.
        assert.ok(second.value.bytes < changed.length + 32 * 1024, `${second.value.bytes} bytes`);
        same();
        assert.equal(readFileSync(join(copy, "distfiles/keep.tar.gz"), "utf8"), "distfile\n");
        assert.equal(readFileSync(join(root, "outside/precious"), "utf8"), "keep me\n");
        assert.equal(existsSync(join(copy, "cat2/pkg2/Makefile")), false);
        assert.equal(existsSync(join(copy, "stale")), false);
        assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id2}\n`);

        const again = await syncTree(conn, { tree, id: id2, dest: "pkgsrc", rsync: route });
        assert.ok(again.ok && again.value.skipped && again.value.bytes === 0);

        // rsync failing (here: not where the host said) falls back to the tar delta.
        writeFileSync(join(tree, "cat3/pkg3/Makefile"), "changed again\n");
        const id3 = stampTree(tree);
        const broken = { ...route, remoteRsync: "/nonexistent/rsync" };
        const third = await syncTree(conn, { tree, id: id3, dest: "pkgsrc", rsync: broken });
        assert.ok(third.ok, JSON.stringify(third));
        assert.equal(third.value.method, "delta");
        assert.match(third.value.note ?? "", /rsync failed/);
        same();
        assert.equal(existsSync(join(root, "pwned")), false);
        assert.equal(existsSync(join(copy, "pwned")), false);
      } finally {
        await conn?.close();
        await transport.dispose();
        await sshd.stop();
        tmp.remove();
      }
    },
  );
});
