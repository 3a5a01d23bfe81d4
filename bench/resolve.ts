/**
 * herd resolve against pkgsrc's pbulk-resolve on the real 29,022-package scan.
 * Usage: node dist/bench/resolve.js [RUNS]   (PBULK_RESOLVE=path overrides where
 * pbulk-resolve is looked for; build it with ../shared/anchors/build-pbulk-resolve.sh)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { measure, median, type Measurement } from "./lib/measure.js";

const root = resolve(import.meta.dirname, "../..");
const data = resolve(root, "../shared/data/pkgsrc-2026");
const runs = Number(process.argv[2] ?? "3");
const tmp = mkdtempSync(join(tmpdir(), "herd-bench-resolve-"));
const scanPlain = join(tmp, "pscan");
execFileSync("sh", ["-c", `zstd -dcq "${data}/pscan.zst" > "${scanPlain}"`]);

const pbulk = [
  process.env.PBULK_RESOLVE,
  join(homedir(), ".cache/herd/anchors/pbulk-resolve"),
].find((p): p is string => p !== undefined && existsSync(p));

async function series(label: string, argv: string[]): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    const fd = openSync(join(tmp, `out-${label}`), "w");
    out.push(await measure(argv, fd));
    closeSync(fd);
  }
  return out;
}

function line(label: string, ms: Measurement[]): string {
  return `${label.padEnd(34)} wall ${median(ms.map((m) => m.wallSeconds)).toFixed(2)} s (min ${Math.min(...ms.map((m) => m.wallSeconds)).toFixed(2)})  peak RSS ${median(ms.map((m) => m.peakRssMB)).toFixed(0)} MB`;
}

const herdCli = join(root, "dist/src/cli/main.js");
const herdPlain = await series("herd", ["node", herdCli, "resolve", scanPlain]);
const herdZst = await series("herdzst", ["node", herdCli, "resolve", join(data, "pscan.zst")]);
console.log(`resolve of the real scan (29,022 packages, 157 MB), median of ${runs} runs`);
console.log(line("herd resolve pscan", herdPlain));
console.log(line("herd resolve pscan.zst", herdZst));
if (pbulk === undefined) {
  console.log(
    "pbulk-resolve: not found (build it with ../shared/anchors/build-pbulk-resolve.sh TREE ~/.cache/herd/anchors)",
  );
} else {
  const pb = await series("pbulk", [pbulk, "-p", scanPlain]);
  console.log(line("pbulk-resolve -p pscan", pb));
  const ratio = median(pb.map((m) => m.wallSeconds)) / median(herdPlain.map((m) => m.wallSeconds));
  console.log(`herd is ${ratio.toFixed(1)}x faster than pbulk-resolve (same input, same run)`);
  const same = execFileSync("sh", [
    "-c",
    `cmp "${tmp}/out-herd" "${tmp}/out-pbulk" >/dev/null && echo same || echo differs`,
  ])
    .toString()
    .trim();
  console.log(
    `outputs: ${same} (pbulk 0.51 leaves PKG_FAIL_REASON of the 6 unresolved packages empty; see ../shared/anchors/README.md)`,
  );
}
rmSync(tmp, { recursive: true, force: true });
