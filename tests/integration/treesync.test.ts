import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { LocalTransport } from "../../src/hosts/local.js";
import { HostPool, type PoolEvent } from "../../src/hosts/pool.js";
import {
  readTreeId,
  stampTree,
  syncTree,
  treeSyncPrepare,
  TREE_ID_FILE,
} from "../../src/hosts/treesync.js";
import { startAgent, tempDir, waitState } from "./agent-support.js";
import { sampleTree, snapshotTree, syncSkips, writeTree } from "./tree-support.js";

test(
  "a host with the same tree id is skipped with zero bytes; a different id syncs",
  { timeout: 60_000 },
  async () => {
    const tmp = tempDir("sync");
    const tree = join(tmp.path, "master-tree");
    sampleTree(tree);
    const id1 = stampTree(tree);
    assert.equal(readTreeId(tree), id1);
    const a = await startAgent(join(tmp.path, "host"), ["dash"]);
    const copy = join(tmp.path, "host", "pkgsrc");
    try {
      const first = await syncTree(a.conn, { tree, id: id1, dest: "pkgsrc" });
      assert.ok(first.ok, JSON.stringify(first));
      assert.equal(first.value.skipped, false);
      assert.ok(first.value.bytes > 0);
      assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
      assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id1}\n`);
      assert.equal(existsSync(join(tmp.path, "pwned")), false);

      // Same id: nothing but the id check crosses the link.
      const before = a.conn.bytesOut;
      const again = await syncTree(a.conn, { tree, id: id1, dest: "pkgsrc" });
      assert.ok(again.ok);
      assert.deepEqual(again.value, { skipped: true, bytes: 0, files: 0 });
      assert.ok(a.conn.bytesOut - before < 100, `${a.conn.bytesOut - before} bytes sent`);

      // The tree changes and is restamped: the copy follows, stale files go.
      writeFileSync(join(tree, "devel/foo/Makefile"), "PKGNAME=foo-2.0\n");
      rmSync(join(tree, "devel/foo/distinfo"));
      writeTree(tree, { "new/pkg/Makefile": "x\n" });
      writeTree(copy, { "devel/foo/work/leftover": "from an old build\n" });
      const id2 = stampTree(tree);
      const third = await syncTree(a.conn, { tree, id: id2, dest: "pkgsrc" });
      assert.ok(third.ok && !third.value.skipped);
      assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
      assert.equal(existsSync(join(copy, "devel/foo/work")), false);
      assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id2}\n`);

      // An interrupted sync leaves no id behind, so it is redone.
      rmSync(join(copy, TREE_ID_FILE));
      const redo = await syncTree(a.conn, { tree, id: id2, dest: "pkgsrc" });
      assert.ok(redo.ok && !redo.value.skipped);
    } finally {
      await a.conn.close();
      tmp.remove();
    }
  },
);

test(
  "the pool syncs each host before its first task, and again after resync()",
  { timeout: 60_000 },
  async () => {
    const tmp = tempDir("sync-pool");
    const tree = join(tmp.path, "tree");
    sampleTree(tree);
    stampTree(tree);
    const pool = new HostPool({
      prepare: treeSyncPrepare(tree, () => ({ dest: "pkgsrc", sync: true })),
    });
    const notes: string[] = [];
    pool.subscribe((e: PoolEvent) => {
      if (e.type === "note" && e.message.startsWith("tree"))
        notes.push(`${e.host}: ${e.message.replace(/[0-9a-f-]{36}/, "ID")}`);
    });
    const idle = (name: string): Promise<void> => waitState(pool, name, "idle");
    try {
      for (const name of ["h1", "h2"]) {
        const transport = new LocalTransport({
          root: join(tmp.path, name),
          shell: ["busybox", "sh"],
        });
        assert.ok(pool.add({ name: hostName(name), transport, slots: 1, speed: 1, tags: [] }).ok);
      }
      await idle("h1");
      await idle("h2");
      const r = await pool.run(hostName("h1"), {
        argv: ["cat", "devel/foo/Makefile"],
        cwd: "pkgsrc",
      });
      assert.ok(r.ok && r.value.output.toString() === "PKGNAME=foo-1.0\n");
      writeFileSync(join(tree, "devel/foo/Makefile"), "PKGNAME=foo-3.0\n");
      stampTree(tree);
      pool.resync();
      await idle("h1");
      await idle("h2");
      const r2 = await pool.run(hostName("h2"), {
        argv: ["cat", "devel/foo/Makefile"],
        cwd: "pkgsrc",
      });
      assert.ok(r2.ok && r2.value.output.toString() === "PKGNAME=foo-3.0\n");
      // A host that reconnects with an up-to-date copy does not sync again.
      assert.ok(pool.remove(hostName("h1")).ok);
      const transport = new LocalTransport({ root: join(tmp.path, "h1"), shell: ["dash"] });
      assert.ok(pool.add({ name: hostName("h1"), transport, slots: 1, speed: 1, tags: [] }).ok);
      await idle("h1");
      assert.equal(notes.filter((n) => n.includes(" synced:")).length, 4);
      assert.deepEqual(notes.at(-1), "h1: tree ID already there, not synced");
    } finally {
      await pool.close();
      tmp.remove();
    }
  },
);
