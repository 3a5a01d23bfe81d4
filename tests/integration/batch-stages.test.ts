/**
 * A package's consecutive make stages as one agent task of steps
 * (batchStages, the default) against one task per stage (batchStages
 * false): the same stages with the same statuses, the same failed stage and
 * reason, the same logs, for a package that fails in the middle of a batch
 * (netkit's compile error in `build`, of fetch … Package), one that depends
 * on it, one that builds, and a stage killed in the middle of a batch by its
 * stage timeout.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FIXTURE_TOOLS, herdJson, buildArgs, sandbox, type Event } from "../lib/fixture.js";

interface Seen {
  /** Per package: its stages in order, "stage status". */
  readonly stages: Map<string, string[]>;
  /** Per package: its end, "result stage reason". */
  readonly ends: Map<string, string>;
  /** Per package: its log files and their contents (the work directory's path replaced). */
  readonly logs: Map<string, Map<string, string>>;
  readonly events: readonly Event[];
}

async function buildWith(
  box: ReturnType<typeof sandbox>,
  name: string,
  config: Record<string, unknown>,
  list: string,
): Promise<Seen> {
  const cfg = join(box.dir, `${name}.json`);
  writeFileSync(cfg, JSON.stringify({ path: [FIXTURE_TOOLS], ...config }));
  const work = join(box.dir, name);
  const r = await herdJson(
    ["build", ...buildArgs({ ...box, config: cfg }, work, 1, list)],
    600_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const stages = new Map<string, string[]>();
  const ends = new Map<string, string>();
  for (const e of r.events) {
    const p = e.pkgname as string;
    if (e.type === "stage")
      stages.set(p, [...(stages.get(p) ?? []), `${e.stage as string} ${e.status as number}`]);
    if (e.type === "package-end")
      ends.set(p, `${e.result as string} ${String(e.stage)} ${String(e.reason)}`);
  }
  const logs = new Map<string, Map<string, string>>();
  for (const p of readdirSync(join(work, "logs"))) {
    const files = new Map<string, string>();
    for (const f of readdirSync(join(work, "logs", p)).sort())
      files.set(
        f,
        readFileSync(join(work, "logs", p, f), "latin1")
          .replaceAll(work, "WORK")
          // A dependency package built in each build: its bytes differ (the times in it).
          .replace(/\(\d+ bytes, cksum \d+\)/g, "(BYTES)"),
      );
    logs.set(p, files);
  }
  return { stages, ends, logs, events: r.events };
}

describe("batched make stages", () => {
  it(
    "give the same stages, statuses, failed stage, reasons and logs as one task per stage",
    { timeout: 900_000 },
    async () => {
      const box = sandbox("batch");
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "net/netkit\nnet/netmon\nsysutils/tick1\n");
      const env = JSON.parse(readFileSync(box.config, "utf8")) as { env: Record<string, string> };
      const batched = await buildWith(box, "batched", { env: env.env }, list);
      const single = await buildWith(box, "single", { env: env.env, batchStages: false }, list);
      assert.deepEqual(batched.stages, single.stages);
      assert.deepEqual(batched.ends, single.ends);
      assert.deepEqual(batched.logs, single.logs);
      // netkit failed in build, the middle of fetch … Package: configure ran before it, nothing after.
      assert.match(batched.ends.get("netkit-0.3") ?? "", /^failed build .*NETKIT_DEFAULT_PORT/);
      const netkit = batched.stages.get("netkit-0.3") ?? [];
      assert.deepEqual(netkit.slice(-2), ["configure 0", "build 1"]);
      assert.match(batched.logs.get("netkit-0.3")?.get("build.log") ?? "", /undeclared/);
      assert.equal(batched.ends.get("tick1-1.0"), "built undefined undefined");
      // Batched, a stage starts where the one before it ended (one task for them all).
      const tick1 = batched.events.filter((e) => e.type === "stage" && e.pkgname === "tick1-1.0");
      const at = (s: string): Event => tick1.find((e) => e.stage === s)!;
      for (const [a, b] of [
        ["fetch", "checksum"],
        ["checksum", "extract"],
        ["configure", "build"],
        ["build", "Package"],
      ] as const) {
        const gap =
          (at(b).startedMs as number) - (at(a).startedMs as number) - (at(a).wallMs as number);
        assert.ok(Math.abs(gap) <= 1, `${a} to ${b}: ${gap} ms between them`);
      }
    },
  );

  it(
    "a stage killed by its timeout in the middle of a batch fails as it does alone",
    { timeout: 900_000 },
    async () => {
      const box = sandbox("batch-timeout");
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "sysutils/tick1\n");
      const base = JSON.parse(readFileSync(box.config, "utf8")) as { env: Record<string, string> };
      const config = { env: { ...base.env, FIXTURE_SLEEP: "120" }, stageTimeout: 15 };
      const batched = await buildWith(box, "batched", config, list);
      const single = await buildWith(box, "single", { ...config, batchStages: false }, list);
      assert.deepEqual(batched.stages, single.stages);
      assert.deepEqual(batched.ends, single.ends);
      assert.deepEqual(batched.logs, single.logs);
      assert.match(batched.ends.get("tick1-1.0") ?? "", /^failed build .*stage timeout/);
      assert.deepEqual((batched.stages.get("tick1-1.0") ?? []).slice(-2), [
        "configure 0",
        "build 137",
      ]);
      assert.match(
        batched.logs.get("tick1-1.0")?.get("build.log") ?? "",
        /herd: killed after 15 s \(stage timeout\)\n$/,
      );
      assert.equal(batched.logs.get("tick1-1.0")?.has("Package.log"), false);
    },
  );
});
