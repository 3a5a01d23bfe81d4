import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "./agent-support.js";
import { herd, records, scanTree } from "./cli-support.js";

test(
  "a scan on 3 local hosts is byte-identical to a scan on 1, batched or one directory a task; a broken dir is reported",
  { timeout: 300_000 },
  async () => {
    const tmp = tempDir("scan");
    try {
      const tree = scanTree(tmp.path, 6);
      assert.equal((await herd(["tree", "stamp", "--tree", tree])).code, 0);
      // herd scan of the tree on `hosts` local hosts under `shell`, in its own work directory.
      const scan = (hosts: number, work: string, shell: string, ...more: string[]) =>
        herd([
          "scan",
          "--tree",
          tree,
          "--local",
          String(hosts),
          "-w",
          join(tmp.path, work),
          "--shell",
          shell,
          ...more,
        ]);
      const one = await scan(1, "w1", "busybox");
      const three = await scan(3, "w3", "dash");
      // Several directories a task (the default) or one each: the same bytes.
      const single = await scan(1, "w1b", "busybox", "--batch", "1");
      for (const r of [one, three, single]) {
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /scan of slow\/broken failed on local\d: exit 1/);
      }
      assert.equal(three.stdout, one.stdout);
      assert.equal(single.stdout, one.stdout);
      const recs = records(one.stdout);
      assert.equal(recs.length, 30 + 6);
      const locations = recs.map((r) => /^PKG_LOCATION=(.*)$/m.exec(r)?.[1] ?? "");
      assert.deepEqual(locations, [...locations].sort());
      assert.ok(
        !one.stdout.includes(join(tmp.path, "w1")),
        "host paths are rebased onto the master tree",
      );
      // The same records a direct pbulk-index in each directory gives, as a set.
      const direct = await herd([
        "scan",
        "--tree",
        tree,
        "--local",
        "2",
        "-w",
        join(tmp.path, "w2"),
        "-o",
        join(tmp.path, "out"),
      ]);
      assert.equal(readFileSync(join(tmp.path, "out"), "utf8"), one.stdout);
      assert.equal(direct.stdout, "");
    } finally {
      tmp.remove();
    }
  },
);

test(
  "a host killed mid-scan has its packages rescanned elsewhere",
  { timeout: 180_000 },
  async () => {
    const tmp = tempDir("scan-kill");
    try {
      const tree = scanTree(tmp.path, 24);
      assert.equal((await herd(["tree", "stamp", "--tree", tree])).code, 0);
      const reference = await herd([
        "scan",
        "--tree",
        tree,
        "--local",
        "1",
        "-w",
        join(tmp.path, "ref"),
      ]);
      const work = join(tmp.path, "w");
      const hosts = join(tmp.path, "hosts");
      writeFileSync(
        hosts,
        "# three local hosts\nh1 local\nh2 local slots=2\nh3 local shell=busybox\n",
      );
      let killed = false;
      const run = await herd(
        ["scan", "--tree", tree, "--hosts", hosts, "-w", work, "--json"],
        async () => {
          // Kill h2's agent (its whole process group) once it runs a scan task.
          const state = join(work, "hosts", "h2", ".herd-agent");
          for (let i = 0; i < 2000 && !killed; i++) {
            const pids = existsSync(state) ? readdirSync(state) : [];
            for (const pid of pids) {
              const tasks = join(state, pid, "tasks");
              if (existsSync(tasks) && readdirSync(tasks).length > 0) {
                process.kill(-Number(pid), "SIGKILL");
                killed = true;
              }
            }
            await new Promise((r) => setTimeout(r, 10));
          }
        },
      );
      assert.ok(killed, "the test found h2 scanning");
      assert.match(run.stderr, /"host":"h2","state":"lost","detail":"agent killed by SIGKILL"/);
      assert.match(run.stderr, /"type":"scan-error","pkgpath":"slow\/broken"/);
      assert.equal(run.stdout, reference.stdout);
    } finally {
      tmp.remove();
    }
  },
);
