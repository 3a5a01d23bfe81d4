/**
 * keepDepends on the real 2013 tree: the real build set (src/cli/demo-real.ts)
 * on one local host, once from a clean prefix per package (the default) and
 * once keeping the dependencies between builds. Checks that both give the
 * same outcomes and the same pkg_summary (build dates and sizes aside), and
 * prints the wall time of each and the time spent in Init and Depends.
 *
 * Usage: npx tsc -p . && node dist/bench/keep-depends.js
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REAL_BUILD_PACKAGES } from "../src/cli/demo-real.js";
import { stableSummary, type Event } from "../tests/lib/fixture.js";
import { CLI } from "../tests/lib/paths.js";
import {
  bootstrapConfig,
  hostSet,
  LOCAL_CATEGORY,
  preparePkgsrc2013,
  runCmd,
  syncHosts,
  treeWithCategory,
} from "../tests/lib/pkgsrc2013.js";

const p = preparePkgsrc2013();
const tree = treeWithCategory(p, LOCAL_CATEGORY);
const host = join(hostSet(p, "bench-keep"), "local1");
await syncHosts(tree, [host]);
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-keep-"));
try {
  writeFileSync(join(tmp, "list"), REAL_BUILD_PACKAGES.join("\n") + "\n");
  writeFileSync(join(tmp, "hosts.txt"), `one local ${host}\n`);
  const results: { name: string; wall: number; init: number; depends: number; events: Event[] }[] =
    [];
  for (const keep of [false, true]) {
    const name = keep ? "keepDepends" : "clean";
    const cfg = join(tmp, `${name}.json`);
    writeFileSync(cfg, JSON.stringify(bootstrapConfig(p, { keepDepends: keep })));
    const t0 = Date.now();
    const r = await runCmd(
      [
        "node",
        CLI,
        "build",
        "--tree",
        tree,
        "--hosts",
        join(tmp, "hosts.txt"),
        "--work",
        join(tmp, name),
        "-c",
        cfg,
        "--pkgs",
        join(tmp, "list"),
        "--json",
      ],
      { timeoutMs: 40 * 60_000 },
    );
    if (r.code !== 0) throw new Error(`${name} build failed: ${r.stderr.slice(-3000)}`);
    const events = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Event);
    const sum = (stage: string): number =>
      events
        .filter((e) => e.type === "stage" && e.stage === stage)
        .reduce((a, e) => a + (e.wallMs as number), 0);
    results.push({
      name,
      wall: Date.now() - t0,
      init: sum("Init"),
      depends: sum("Depends"),
      events,
    });
  }
  const ends = (es: readonly Event[]): string[] =>
    es
      .filter((e) => e.type === "package-end" || e.type === "indirect-failed")
      .map((e) => `${e.pkgname as string} ${(e.result as string | undefined) ?? e.type}`)
      .sort();
  assert.deepEqual(ends(results[1]!.events), ends(results[0]!.events));
  assert.deepEqual(stableSummary(join(tmp, "keepDepends")), stableSummary(join(tmp, "clean")));
  console.log("same outcomes and pkg_summary with and without keepDepends");
  console.log("| mode | wall (s) | Init (s) | Depends (s) |");
  console.log("|---|---|---|---|");
  for (const r of results)
    console.log(
      `| ${r.name} | ${(r.wall / 1000).toFixed(1)} | ${(r.init / 1000).toFixed(1)} | ${(r.depends / 1000).toFixed(1)} |`,
    );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
