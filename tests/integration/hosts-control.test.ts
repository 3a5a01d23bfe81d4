import assert from "node:assert/strict";
import { appendFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { controlRequest } from "../../src/hosts/control.js";
import { HostPool } from "../../src/hosts/pool.js";
import { serveHosts } from "../../src/hosts/serve.js";
import { tempDir, waitState } from "./agent-support.js";
import { eventually } from "./cli-support.js";

test(
  "the watched hosts file and the control socket add, drain and remove hosts",
  { timeout: 120_000 },
  async () => {
    const tmp = tempDir("hosts");
    const pool = new HostPool({ heartbeatIntervalMs: 500 });
    const warnings: string[] = [];
    const file = join(tmp.path, "hosts.txt");
    const sock = join(tmp.path, "control.sock");
    writeFileSync(file, "h1 local\n");
    const served = await serveHosts({
      pool,
      work: tmp.path,
      tree: tmp.path,
      socketPath: sock,
      hostsFile: file,
      watchIntervalMs: 50,
      syncs: new Map(),
      warn: (m) => warnings.push(m),
    });
    const slots = (name: string): number | undefined => pool.get(hostName(name))?.slots;
    try {
      await waitState(pool, "h1", "idle");
      assert.equal(statSync(sock).mode & 0o777, 0o600, "the control socket is its owner's only");

      const added = await controlRequest(sock, { op: "add", line: "h2 local slots=2 tags=extra" });
      assert.deepEqual(added, { ok: true, value: { ok: true, message: "host h2 added" } });
      await waitState(pool, "h2", "idle");
      const list = await controlRequest(sock, { op: "list" });
      assert.ok(list.ok && list.value.ok);
      assert.deepEqual(
        list.value.hosts?.map((h) => [h.name, h.state, h.slots, h.tags]),
        [
          ["h1", "idle", 1, []],
          ["h2", "idle", 2, ["extra"]],
        ],
      );
      const bad = await controlRequest(sock, { op: "add", line: "h9 teleport" });
      assert.match(JSON.stringify(bad), /"ok":false,"error":"unknown transport \\"teleport\\"/);
      const dup = await controlRequest(sock, { op: "add", line: "h2 local" });
      assert.ok(dup.ok && !dup.value.ok);

      // The file grows: h3 joins. h1's line changes: it is drained and rejoins.
      appendFileSync(file, "h3 local shell=busybox\n");
      await waitState(pool, "h3", "idle");
      writeFileSync(file, "h1 local slots=3\nh3 local shell=busybox\n");
      await eventually(
        "h1 back with 3 slots",
        () => slots("h1") === 3 && pool.get(hostName("h1"))?.state.kind === "idle",
      );

      // A broken file changes nothing and says why.
      writeFileSync(file, "h1 local slots=3\nh3 lokal\n");
      await eventually("a warning", () => warnings.length > 0);
      assert.match(warnings[0]!, /hosts.txt:2: unknown transport "lokal"/);
      assert.equal(pool.get(hostName("h3"))?.state.kind, "idle");

      // h3 leaves the file: drained, gone.
      writeFileSync(file, "h1 local slots=3\n");
      await waitState(pool, "h3", "gone");

      const drained = await controlRequest(sock, { op: "drain", name: "h2" });
      assert.ok(drained.ok && drained.value.ok);
      await waitState(pool, "h2", "gone");
      const removed = await controlRequest(sock, { op: "remove", name: "h1" });
      assert.ok(removed.ok && removed.value.ok);
      assert.deepEqual(pool.get(hostName("h1"))?.state, {
        kind: "gone",
        reason: "removed by the operator",
      });
      const unknown = await controlRequest(sock, { op: "remove", name: "nobody" });
      assert.match(
        JSON.stringify(unknown),
        /"ok":false,"error":"no host named nobody in the pool"/,
      );
    } finally {
      await served.close();
      await pool.close();
      tmp.remove();
    }
    const gone = await controlRequest(sock, { op: "list" });
    assert.ok(!gone.ok);
    assert.match(gone.error, /no herd master is running/);
  },
);
