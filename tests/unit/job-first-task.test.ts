/**
 * A package's first task leaves in the same turn as its start when there is
 * nothing to send first (no bootstrap kit, or the host holds it): the
 * dispatch loop starts a whole round's packages in one turn, and a first
 * task that waited for the next turn waited behind all of them. With a kit
 * the host lacks, the kit goes first. Either way the job runs to the same
 * end: its package brought back intact (the bytes kept from the transfer).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { defaultConfig } from "../../src/cli/config.js";
import { hostName } from "../../src/core/hostspec.js";
import { HostCache } from "../../src/bulk/host-cache.js";
import { runJob, type JobOutcome } from "../../src/bulk/job.js";
import { buildLoop } from "../../src/bulk/loop.js";
import { EventBus } from "../../src/events/types.js";
import { kitKey, kitOf, type SendFailure } from "../../src/bulk/prefix.js";
import { FakeTransport, type FakeHandler } from "../../src/hosts/fake.js";
import { HostPool, type Lease } from "../../src/hosts/pool.js";
import type { HostStateKind } from "../../src/hosts/state.js";

const PKG = { pkgname: "tick-1.0", pkgpath: "sysutils/tick", makeArgs: [], installs: [] };

/** A binary package as pkgsrc makes it: a gzipped tar with +CONTENTS naming it. */
function binaryPackage(pkgname: string): Buffer {
  const member = (name: string, text: string): Buffer[] => {
    const data = Buffer.from(text);
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write("0000644\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write("0", 156);
    h.write("ustar\0" + "00", 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    return [h, data, Buffer.alloc((512 - (data.length % 512)) % 512)];
  };
  return gzipSync(
    Buffer.concat([
      ...member("+CONTENTS", `@name ${pkgname}\n@cwd /usr/pkg\n`),
      ...member("+COMMENT", "a package\n"),
      Buffer.alloc(1024),
    ]),
  );
}

async function until(pool: HostPool, kind: HostStateKind): Promise<void> {
  for (;;) {
    if (pool.get(hostName("a"))?.state.kind === kind) return;
    await pool.changed();
  }
}

/**
 * Runs the job in a slot of a fake host; returns what had been started on the
 * host by the time runJob returned (synchronously), the tasks and files the
 * host saw, and the outcome.
 */
async function job(o: { kit: string; hostHasKit: boolean }): Promise<{
  startedAtOnce: string[];
  ran: string[];
  put: string[];
  outcome: JobOutcome;
  made: Buffer;
  /** The staged file's bytes (what commitPackage would move into the repository). */
  staged: Buffer | undefined;
}> {
  const dir = mkdtempSync(join(tmpdir(), "herd-first-task-"));
  const repo = join(dir, "All");
  mkdirSync(repo);
  const made = binaryPackage(PKG.pkgname);
  const ran: string[] = [];
  const handler: FakeHandler = (run) => {
    ran.push(run.argv.includes("herd-init") ? "Init" : (run.argv.at(-1) ?? ""));
    if (run.argv.includes("-V")) return Promise.resolve({ status: 0, output: `${PKG.pkgname}\n` });
    if (run.argv.at(-1) === "package")
      run.files.set(`${run.env.get("PACKAGES")!}/All/${PKG.pkgname}.tgz`, made);
    return Promise.resolve({ status: 0 });
  };
  const t = new FakeTransport({ handler });
  const pool = new HostPool({
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 10_000,
    retryDelayMs: 20,
    maxFailures: 3,
  });
  try {
    assert.ok(pool.add({ name: hostName("a"), transport: t, slots: 1, speed: 1, tags: [] }).ok);
    await until(pool, "idle");
    const config = { ...defaultConfig(), bootstrapKit: o.kit, batchStages: false };
    const hostCache = new HostCache<SendFailure>();
    if (o.hostHasKit) {
      const kit = kitOf(config);
      assert.ok(kit.ok && kit.value !== null);
      // What an earlier job on the host left: its cache says it holds the kit.
      await hostCache.ensure(kitKey(kit.value), () => Promise.resolve({ ok: true, value: "" }));
    }
    const startedAtOnce: string[] = [];
    const r = await pool.task(hostName("a"), PKG.pkgname, async (lease: Lease) => {
      const spied: Lease = {
        ...lease,
        start: (spec) => {
          startedAtOnce.push(spec.argv.includes("herd-init") ? "Init" : spec.argv.join(" "));
          return lease.start(spec);
        },
      };
      const p = runJob({
        lease: spied,
        pkg: PKG,
        config,
        repo,
        logDir: join(dir, "logs"),
        hostCache,
        now: () => performance.now(),
        onStage: () => undefined,
      });
      // Before anything this turn could not do (nothing has been awaited yet).
      const seen = [...startedAtOnce];
      return { seen, outcome: await p };
    });
    assert.ok(r.ok);
    const put = [...t.files.keys()].filter((f) => f.includes("bootstrap-kit"));
    const outcome = r.value.outcome;
    const staged = outcome.ok ? readFileSync(outcome.staged) : undefined;
    return { startedAtOnce: r.value.seen, ran, put, outcome, made, staged };
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertBuilt(o: Awaited<ReturnType<typeof job>>): void {
  assert.ok(o.outcome.ok, JSON.stringify(o.outcome));
  assert.equal(o.outcome.sha256, createHash("sha256").update(o.made).digest("hex"));
  assert.equal(o.outcome.size, o.made.length);
  assert.ok(o.staged?.equals(o.made));
  assert.deepEqual(
    o.ran,
    [
      "Init",
      "clean",
      "-V",
      "fetch",
      "checksum",
      "extract",
      "patch",
      "configure",
      "build",
      "package",
    ].map((x) => (x === "-V" ? "${PKGNAME}" : x)),
  );
}

test("with no bootstrap kit, Init is on its way when runJob returns", async () => {
  const o = await job({ kit: "", hostHasKit: false });
  assert.deepEqual(o.startedAtOnce, ["Init"]);
  assert.deepEqual(o.put, []);
  assertBuilt(o);
});

/** The job with a bootstrap kit the host holds or lacks. */
async function jobWithKit(hostHasKit: boolean): ReturnType<typeof job> {
  const dir = mkdtempSync(join(tmpdir(), "herd-kit-"));
  try {
    const kit = join(dir, "kit.tar");
    writeFileSync(kit, "a kit");
    return await job({ kit, hostHasKit });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("with a kit the host holds, Init is on its way when runJob returns, and the kit is not sent again", async () => {
  const o = await jobWithKit(true);
  assert.deepEqual(o.startedAtOnce, ["Init"]);
  assert.deepEqual(o.put, []);
  assertBuilt(o);
});

test("with a kit the host lacks, the kit is sent first, then Init", async () => {
  const o = await jobWithKit(false);
  assert.deepEqual(o.startedAtOnce, []);
  assert.equal(o.put.length, 1);
  assertBuilt(o);
});

test("in a round that starts several packages, every first task leaves before the starts are told, each start before its package's stages", async () => {
  const dir = mkdtempSync(join(tmpdir(), "herd-round-"));
  // What happened, in order: a package-start event heard, a first task (Init) reaching the host.
  const order: string[] = [];
  const names = ["a-1.0", "b-1.0", "c-1.0", "d-1.0"];
  const handler: FakeHandler = (run) => {
    const pkg = names.find((n) => run.cwd.endsWith(`/${n[0]!}`)) ?? "";
    if (run.argv.includes("herd-init")) order.push(`task ${run.env.get("HERD_PKGNAME") ?? "?"}`);
    if (run.argv.includes("-V")) return Promise.resolve({ status: 0, output: `${pkg}\n` });
    if (run.argv.at(-1) === "package")
      run.files.set(`${run.env.get("PACKAGES")!}/All/${pkg}.tgz`, binaryPackage(pkg));
    return Promise.resolve({ status: 0 });
  };
  const pool = new HostPool({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 10_000 });
  try {
    const t = new FakeTransport({ handler });
    assert.ok(pool.add({ name: hostName("a"), transport: t, slots: 4, speed: 1, tags: [] }).ok);
    await until(pool, "idle");
    const bus = new EventBus();
    const stages = new Map<string, string[]>();
    // Every event heard, in order (a package's start and its stages).
    const heard: string[] = [];
    bus.on((e) => {
      if (e.type === "package-start") heard.push(`start ${e.pkgname}`);
      if (e.type === "stage") heard.push(`stage ${e.pkgname}`);
      if (e.type === "package-start") order.push(`start ${e.pkgname}`);
      if (e.type === "stage") stages.set(e.pkgname, [...(stages.get(e.pkgname) ?? []), e.stage]);
    });
    const repo = join(dir, "All");
    mkdirSync(repo);
    const t0 = performance.now();
    const r = await buildLoop({
      pool,
      packages: names.map((n) => ({
        pkgname: n,
        pkgpath: `cat/${n[0]!}`,
        makeArgs: [],
        installs: [],
        deps: [],
        expectedSeconds: 10,
        weight: undefined,
      })),
      config: { ...defaultConfig(), bootstrapKit: "", batchStages: false },
      policy: defaultConfig().policy,
      repo,
      logDir: (n) => join(dir, "logs", n),
      bus,
      now: () => (performance.now() - t0) / 1000,
      durable: () => undefined,
    });
    assert.equal(r.built, 4, JSON.stringify(order));
    // Every package's Init went out before any package-start was told (the telling waits
    // until the round's starts are done), and each package's start precedes its stages.
    const starts = order.filter((x) => x.startsWith("start "));
    const tasks = order.filter((x) => x.startsWith("task "));
    assert.equal(starts.length, 4);
    assert.equal(tasks.length, 4);
    assert.deepEqual(
      order,
      [...tasks, ...starts],
      "the round's Inits left before its package-starts",
    );
    for (const n of names) {
      const i = heard.indexOf(`start ${n}`);
      assert.ok(i >= 0 && i < heard.indexOf(`stage ${n}`), `${n}: package-start before its stages`);
    }
    // The master's stages held back until the round's tasks were out are recorded all the
    // same, in order, with their logs.
    const config = defaultConfig();
    for (const n of names) {
      assert.deepEqual(stages.get(n), [...config.targets, "Fetch"], n);
      assert.match(readFileSync(join(dir, "logs", n, "SyncPkgsrcTree.log"), "utf8"), /decided/);
    }
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
