import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
} from "../../src/hosts/treesync/treesync.js";
import { busyboxOnlyPath, startAgent, tempDir, waitState } from "./agent-support.js";
import { sampleTree, snapshotTree, syncSkips, writeTree } from "./tree-support.js";
import { biggerTree } from "./treesync-support.js";

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
      assert.deepEqual(again.value, {
        skipped: true,
        method: "none",
        bytes: 0,
        received: 0,
        files: 0,
        removed: 0,
      });
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

for (const setup of ["dash", "busybox sh and only busybox tools"] as const) {
  test(
    `a host with an older copy receives only what changed (${setup})`,
    { timeout: 60_000 },
    async () => {
      const tmp = tempDir("sync-delta");
      const tree = join(tmp.path, "tree");
      biggerTree(tree);
      const root = join(tmp.path, "host");
      const a =
        setup === "dash"
          ? await startAgent(root, ["dash"])
          : await startAgent(root, ["busybox", "sh"], {
              PATH: busyboxOnlyPath(tmp.path, ["find"]),
            });
      const copy = join(root, "pkgsrc");
      const sync = (id: string): ReturnType<typeof syncTree> =>
        syncTree(a.conn, { tree, id, dest: "pkgsrc" });
      const same = (): void => {
        assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
      };
      try {
        const first = await sync(stampTree(tree));
        assert.ok(first.ok, JSON.stringify(first));
        assert.equal(first.value.method, "full");
        const treeBytes = first.value.bytes;
        assert.ok(treeBytes > 400_000, `${treeBytes}`);
        same();

        // What the host has of its own: distfiles (kept), a stale file, and
        // a symlink out of the copy (removed, never followed).
        writeTree(root, {
          "pkgsrc/distfiles/keep.tar.gz": "distfile\n",
          "pkgsrc/stale/file": "old\n",
          "outside/precious": "keep me\n",
        });
        symlinkSync(join(root, "outside"), join(copy, "cat0/escape"));

        const changed = `${"y".repeat(5000)}\n`;
        writeFileSync(join(tree, "cat1/pkg1/Makefile"), changed);
        const id2 = stampTree(tree);
        const before = a.conn.bytesOut;
        const second = await sync(id2);
        assert.ok(second.ok, JSON.stringify(second));
        assert.equal(second.value.method, "delta");
        const onWire = a.conn.bytesOut - before;
        // The changed file, tar headers, the symlinks (always renewed), the
        // name with a newline (always renewed), the deletion list.
        const bound = changed.length + 8 * 1024;
        assert.ok(second.value.bytes <= bound, `${second.value.bytes} bytes of tree data`);
        assert.ok(onWire <= bound + 4 * 1024, `${onWire} bytes on the wire`);
        assert.ok(bound * 30 < treeBytes);
        same();
        assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id2}\n`);
        assert.equal(readFileSync(join(copy, "distfiles/keep.tar.gz"), "utf8"), "distfile\n");
        assert.equal(readFileSync(join(root, "outside/precious"), "utf8"), "keep me\n");
        assert.equal(existsSync(join(copy, "stale")), false);

        // Removed files and directories, a file that becomes a directory, a
        // mode change both ways, a new empty directory.
        rmSync(join(tree, "cat2/pkg2/Makefile"));
        rmSync(join(tree, "cat3"), { recursive: true });
        rmSync(join(tree, "devel/foo/distinfo"));
        writeTree(tree, { "devel/foo/distinfo/now-a-dir": "x\n", "newdir/empty": null });
        chmodSync(join(tree, "mk/script.sh"), 0o644);
        chmodSync(join(tree, "cat4/pkg4/Makefile"), 0o755);
        const id3 = stampTree(tree);
        const third = await sync(id3);
        assert.ok(third.ok, JSON.stringify(third));
        assert.equal(third.value.method, "delta");
        same();
        assert.equal(existsSync(join(copy, "cat2/pkg2/Makefile")), false);
        assert.equal(existsSync(join(copy, "cat3")), false);
        assert.ok(third.value.removed >= 5);

        const again = await sync(id3);
        assert.ok(again.ok && again.value.skipped && again.value.bytes === 0);
        for (const where of [root, copy, tmp.path, join(copy, "odd")])
          assert.equal(existsSync(join(where, "pwned")), false);
      } finally {
        await a.conn.close();
        tmp.remove();
      }
    },
  );
}

test(
  "an interrupted sync leaves no tree id, and the next one finishes it",
  { timeout: 60_000 },
  async () => {
    const tmp = tempDir("sync-cut");
    const tree = join(tmp.path, "tree");
    sampleTree(tree);
    writeTree(tree, { "big/blob": randomBytes(4 << 20) });
    const root = join(tmp.path, "host");
    const copy = join(root, "pkgsrc");
    const a = await startAgent(root, ["dash"], undefined, 16 * 1024);
    let b: Awaited<ReturnType<typeof startAgent>> | undefined;
    try {
      const first = await syncTree(a.conn, { tree, id: stampTree(tree), dest: "pkgsrc" });
      assert.ok(first.ok);

      writeTree(tree, { "big/blob": randomBytes(4 << 20) });
      const id2 = stampTree(tree);
      const base = a.conn.bytesOut;
      const cut = syncTree(a.conn, { tree, id: id2, dest: "pkgsrc" });
      const deadline = Date.now() + 30_000;
      while (a.conn.bytesOut - base < 1 << 20 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 1));
      a.conn.destroy("cut by the test");
      const r = await cut;
      assert.ok(!r.ok, "the sync was cut");
      assert.equal(existsSync(join(copy, TREE_ID_FILE)), false);

      b = await startAgent(root, ["busybox", "sh"]);
      const redo = await syncTree(b.conn, { tree, id: id2, dest: "pkgsrc" });
      assert.ok(redo.ok, JSON.stringify(redo));
      assert.equal(redo.value.method, "delta");
      assert.ok(redo.value.bytes < (4 << 20) + 16 * 1024, `${redo.value.bytes}`);
      assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
      assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id2}\n`);
      const again = await syncTree(b.conn, { tree, id: id2, dest: "pkgsrc" });
      assert.ok(again.ok && again.value.skipped);
    } finally {
      await b?.conn.close();
      tmp.remove();
    }
  },
);

test(
  "a host whose copy holds an id the master listed before lists nothing, and still ends equal",
  { timeout: 60_000 },
  async () => {
    const tmp = tempDir("sync-known");
    const tree = join(tmp.path, "tree");
    sampleTree(tree);
    const manifests = join(tmp.path, "manifests");
    const root = join(tmp.path, "host");
    const copy = join(root, "pkgsrc");
    const a = await startAgent(root, ["dash"]);
    const sync = (id: string): ReturnType<typeof syncTree> =>
      syncTree(a.conn, { tree, id, dest: "pkgsrc", manifests });
    try {
      const id1 = stampTree(tree);
      const first = await sync(id1);
      assert.ok(first.ok && first.value.method === "full", JSON.stringify(first));
      assert.ok(existsSync(join(manifests, id1)), "the listing of id1 is kept");

      // Changed, removed, made executable, added: the delta comes from the kept listing.
      writeFileSync(join(tree, "devel/foo/Makefile"), "PKGNAME=foo-1.1\n");
      rmSync(join(tree, "devel/foo/files"), { recursive: true });
      chmodSync(join(tree, "mk/script.sh"), 0o644);
      writeTree(tree, { "newcat/newpkg/Makefile": "new\n" });
      const id2 = stampTree(tree);
      const second = await sync(id2);
      assert.ok(second.ok, JSON.stringify(second));
      assert.equal(second.value.method, "known");
      assert.equal(second.value.received, 0, "the host listed nothing");
      assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
      assert.equal(readFileSync(join(copy, TREE_ID_FILE), "utf8"), `${id2}\n`);

      // A host id the master never listed (or not a uuid at all): the host lists its copy.
      writeFileSync(join(tree, "devel/foo/Makefile"), "PKGNAME=foo-1.2\n");
      writeFileSync(join(copy, TREE_ID_FILE), "../../etc/passwd\n");
      const id3 = stampTree(tree);
      const third = await sync(id3);
      assert.ok(third.ok, JSON.stringify(third));
      assert.equal(third.value.method, "delta");
      assert.deepEqual(snapshotTree(copy, syncSkips), snapshotTree(tree, syncSkips));
    } finally {
      await a.conn.close();
      tmp.remove();
    }
  },
);
