import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { test } from "node:test";
import { tarTree } from "../../src/hosts/tar.js";
import { SYNC_EXCLUDE_NAMES, SYNC_EXCLUDE_TOP } from "../../src/hosts/treesync/treesync.js";
import { tempDir } from "./agent-support.js";
import { sampleTree, snapshotTree, syncSkips } from "./tree-support.js";

test(
  "the ustar stream unpacks identically with GNU tar and busybox tar",
  { timeout: 30_000 },
  async () => {
    const tmp = tempDir("tar");
    try {
      const src = join(tmp.path, "src");
      sampleTree(src);
      const archive = join(tmp.path, "t.tar");
      const stats = { files: 0, dirs: 0, links: 0, bytes: 0 };
      await pipeline(
        Readable.from(
          tarTree(src, { excludeNames: SYNC_EXCLUDE_NAMES, excludeTop: SYNC_EXCLUDE_TOP, stats }),
        ),
        createWriteStream(archive),
      );
      const expected = snapshotTree(src, syncSkips);
      assert.equal(stats.links, 1);
      assert.equal(
        stats.files,
        [...expected.values()].filter((v) => v !== "dir" && !v.startsWith("link:")).length,
      );
      for (const [name, cmd] of [
        ["gnu", ["tar", "xf", archive]],
        ["busybox", ["busybox", "tar", "xf", archive]],
      ] as const) {
        const out = join(tmp.path, name);
        mkdirSync(out);
        execFileSync(cmd[0], cmd.slice(1), { cwd: out });
        assert.deepEqual(snapshotTree(out), expected, name);
      }
    } finally {
      tmp.remove();
    }
  },
);
