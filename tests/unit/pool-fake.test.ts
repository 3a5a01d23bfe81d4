import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { hostName, type HostName } from "../../src/core/hostspec.js";
import { runJobs } from "../../src/bulk/dispatch.js";
import { FakeTransport, type FakeHandler } from "../../src/hosts/fake.js";
import { getBuffer, getToFile } from "../../src/hosts/get.js";
import { HostPool, type PoolOptions } from "../../src/hosts/pool.js";
import type { HostStateKind } from "../../src/hosts/state.js";

const FAST: PoolOptions = {
  heartbeatIntervalMs: 20,
  heartbeatTimeoutMs: 200,
  retryDelayMs: 20,
  maxFailures: 3,
};

async function until(pool: HostPool, name: string, kind: HostStateKind): Promise<void> {
  for (;;) {
    if (pool.get(hostName(name))?.state.kind === kind) return;
    await pool.changed();
  }
}

function add(pool: HostPool, name: string, t: FakeTransport, slots = 1, speed = 1): void {
  const r = pool.add({ name: hostName(name), transport: t, slots, speed, tags: [] });
  assert.ok(r.ok);
}

const echo: FakeHandler = (run) =>
  Promise.resolve({ status: 0, output: `${run.argv.join(" ")} in ${run.cwd}\n` });

test(
  "fake hosts come up, run tasks, move files, drain and leave",
  { timeout: 10_000 },
  async () => {
    const pool = new HostPool(FAST);
    const t = new FakeTransport({ handler: echo });
    add(pool, "a", t, 2);
    await until(pool, "a", "idle");
    const a = hostName("a");
    const r = await pool.run(a, { argv: ["make", "x"], cwd: "pkgsrc/cat/pkg", env: { A: "1" } });
    assert.ok(r.ok);
    assert.equal(r.value.output.toString(), "make x in /fake/pkgsrc/cat/pkg\n");
    const conn = pool.connection(a)!;
    assert.ok((await conn.put("f", Buffer.from("data"))).ok);
    assert.equal(t.files.get("/fake/f")?.toString(), "data");
    const g = await getBuffer(conn, "f");
    assert.ok(g.ok && g.value.toString() === "data");
    const dir = mkdtempSync(join(tmpdir(), "herd-get-"));
    try {
      t.files.set("/fake/big", randomBytes(300_000));
      const kept = await getToFile(conn, "big", join(dir, "big"), { keep: true });
      assert.ok(kept.ok && kept.value.bytes?.equals(t.files.get("/fake/big")!));
      assert.ok(readFileSync(join(dir, "big")).equals(t.files.get("/fake/big")!));
      const plain = await getToFile(conn, "f", join(dir, "f"));
      assert.ok(plain.ok && plain.value.bytes === undefined && plain.value.size === 4);
      assert.equal(readFileSync(join(dir, "f")).toString(), "data");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(pool.add({ name: a, transport: t, slots: 1, speed: 1, tags: [] }).ok, false);
    assert.ok(pool.drain(a).ok);
    await until(pool, "a", "gone");
    const refused = await pool.run(a, { argv: ["x"] });
    assert.ok(!refused.ok && refused.error.reason === "unavailable");
    await pool.close();
  },
);

test(
  "a frozen host is lost on heartbeat timeout, its task fails as lost, and it comes back",
  { timeout: 10_000 },
  async () => {
    const pool = new HostPool(FAST);
    const never: FakeHandler = (_run, signal) =>
      new Promise((res) => {
        signal.addEventListener("abort", () => {
          res({ status: 143 });
        });
      });
    const t = new FakeTransport({ handler: never });
    add(pool, "a", t);
    await until(pool, "a", "idle");
    const pending = pool.run(hostName("a"), { argv: ["sleep"] });
    await until(pool, "a", "busy");
    t.freeze();
    const r = await pending;
    assert.ok(!r.ok);
    assert.equal(r.error.reason, "lost");
    assert.match(r.error.message, /heartbeat timeout/);
    await until(pool, "a", "idle");
    assert.equal(t.opens, 2);
    await pool.close();
  },
);

test("a host that keeps failing is quarantined with the reason", { timeout: 10_000 }, async () => {
  const pool = new HostPool(FAST);
  const t = new FakeTransport({ failOpens: 100 });
  add(pool, "bad", t);
  await until(pool, "bad", "lost");
  for (;;) {
    const s = pool.get(hostName("bad"))!.state;
    if (s.kind === "lost" && s.quarantine !== null) {
      assert.match(
        s.quarantine,
        /failed 3 times in a row, last: cannot connect: fake host unreachable/,
      );
      break;
    }
    await pool.changed();
  }
  assert.equal(t.opens, 3);
  await pool.close();
});

test(
  "removing a busy host fails its task as lost; the dispatch loop requeues it elsewhere",
  { timeout: 10_000 },
  async () => {
    const pool = new HostPool(FAST);
    const ran = new Map<string, HostName[]>();
    const slowOnA: FakeHandler = (run, signal) =>
      new Promise((res) => {
        if (run.cwd.endsWith("/a"))
          signal.addEventListener("abort", () => {
            res({ status: 143 });
          });
        else
          setTimeout(() => {
            res({ status: 0, output: run.argv[0] ?? "" });
          }, 5);
      });
    const ta = new FakeTransport({ root: "/a", handler: slowOnA });
    const tb = new FakeTransport({ root: "/b", handler: slowOnA });
    add(pool, "a", ta, 1, 2);
    await until(pool, "a", "idle");
    add(pool, "b", tb, 1, 1);
    await until(pool, "b", "idle");
    const jobs = Array.from({ length: 10 }, (_, i) => `job${i}`);
    const dispatched = runJobs(pool, jobs, async (job, lease) => {
      ran.set(job, [...(ran.get(job) ?? []), lease.host]);
      const r = await lease.run({ argv: [job] });
      if (!r.ok) return { kind: "lost", reason: r.error.message };
      return { kind: "ok", value: job };
    });
    // a is the fastest, so it takes job0 first, and hangs on it.
    await until(pool, "a", "busy");
    assert.ok(pool.remove(hostName("a"), "operator said so").ok);
    const res = await dispatched;
    assert.equal(res.size, 10);
    assert.deepEqual(ran.get("job0"), [hostName("a"), hostName("b")]);
    for (let i = 1; i < 10; i++) assert.deepEqual(ran.get(`job${i}`), [hostName("b")]);
    assert.deepEqual(pool.get(hostName("a"))!.state, { kind: "gone", reason: "operator said so" });
    await pool.close();
  },
);

test(
  "the dispatch loop stops, naming each host, when no host can take work",
  { timeout: 10_000 },
  async () => {
    const pool = new HostPool({ ...FAST, maxFailures: 1 });
    add(pool, "bad", new FakeTransport({ failOpens: 5 }));
    await assert.rejects(
      runJobs(pool, [1, 2], () => Promise.resolve({ kind: "ok" as const, value: null })),
      /no host can take work \(bad: quarantined: failed 1 times in a row, last: cannot connect: fake host unreachable\); 2 jobs not run/,
    );
    await pool.close();
  },
);
