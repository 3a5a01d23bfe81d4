/**
 * How many packages an incremental scan rescans when one typical file of the
 * tree changes: the records of the real 29,022-package scan whose
 * SCAN_DEPENDS name that file (herd rescans exactly those, plus packages
 * whose own directory changed). Usage: node dist/bench/rescan.js [FILE...]
 */
import { resolve } from "node:path";
import { readScanFile } from "../src/cli/input.js";

const scan = resolve(import.meta.dirname, "../../../shared/data/pkgsrc-2026/pscan.zst");
const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : [
        "devel/zlib/buildlink3.mk",
        "devel/gettext-lib/buildlink3.mk",
        "textproc/libxml2/buildlink3.mk",
        "x11/gtk3/buildlink3.mk",
        "lang/python/pyversion.mk",
        "mk/bsd.pkg.mk",
      ];
const t0 = performance.now();
const records = await readScanFile(scan);
const uses = new Map<string, number>(files.map((f) => [f, 0]));
for (const r of records) {
  const deps = new Set(
    (r.get("SCAN_DEPENDS") ?? "").split(/\s+/).map((p) => p.replace(/^(\.\.\/)+/, "")),
  );
  for (const f of files) if (deps.has(f)) uses.set(f, uses.get(f)! + 1);
}
console.log(
  `real scan: ${records.length} records (read in ${Math.round(performance.now() - t0)} ms)`,
);
console.log("changed file                              packages rescanned   share");
for (const [f, n] of uses)
  console.log(
    `${f.padEnd(42)}${String(n).padStart(8)}        ${((100 * n) / records.length).toFixed(1).padStart(5)}%`,
  );
