/**
 * The build report of a full-size build: the real 29,022 packages of
 * presolve.zst (names, paths, maintainers, DEPENDS, pbulk's skips and
 * failures), ~5 % of the packages tried failing in a stage with logs, their
 * dependents indirect-failed, the rest built on 16 hosts × 2 slots with 14
 * stage rows each (bench/lib/bigstore.ts), in an on-disk store with an
 * earlier build to compare with. Times reportModel + writeReport and prints
 * the sizes of what they wrote, then how long Chromium (when installed) takes
 * to open report.html from file:// and to page through the failures.
 * Usage: node dist/bench/report.js [--packages N] [--fail-rate 0.05] [--no-browser] [--keep]
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { formatCounts } from "../src/core/pkgstate.js";
import { reportModel } from "../src/report/model.js";
import { writeReport } from "../src/report/render.js";
import { Store } from "../src/store/store.js";
import { CHROMIUM, launchBrowser } from "../tests/lib/browser.js";
import { fillBigBuild, PRESOLVE_2026, readPresolvePackages } from "./lib/bigstore.js";

const { values } = parseArgs({
  options: {
    packages: { type: "string" },
    "fail-rate": { type: "string", default: "0.05" },
    keep: { type: "boolean", default: false },
    "no-browser": { type: "boolean", default: false },
  },
});

/** Bytes of a file or, recursively, a directory. */
function du(path: string): { bytes: number; files: number } {
  const st = statSync(path);
  if (!st.isDirectory()) return { bytes: st.size, files: 1 };
  let bytes = 0;
  let files = 0;
  for (const e of readdirSync(path)) {
    const s = du(join(path, e));
    bytes += s.bytes;
    files += s.files;
  }
  return { bytes, files };
}

const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
const ms = (t: number): string => `${Math.round(t)} ms`;

/** Opens the report as an operator would and times it: loading, and the next page of failures. */
async function openInBrowser(html: string): Promise<void> {
  const browser = await launchBrowser();
  try {
    const { page } = browser;
    let t = performance.now();
    await page.goto(pathToFileURL(html).href, { waitUntil: "domcontentloaded", timeout: 300_000 });
    const ready = performance.now() - t;
    await page.waitForLoadState("load", { timeout: 300_000 });
    const loaded = performance.now() - t;
    t = performance.now();
    await page.locator("#failed .next").click();
    await page.locator("#failed .where").getByText(/^101–/).waitFor();
    const next = performance.now() - t;
    t = performance.now();
    await page.locator("#built summary").click();
    await page.locator("#built input[type=search]").fill("py313-");
    const filtered = (await page.locator("#built .where").textContent()) ?? "";
    const filter = performance.now() - t;
    console.log(
      `chromium: report.html ready in ${ms(ready)} (load event ${ms(loaded)}; a large build's timeline is drawn when scrolled to); ` +
        `next page of failures ${ms(next)}; built list unfolded and filtered to py313- (${filtered}) ${ms(filter)}`,
    );
  } finally {
    await browser.close();
  }
}

const tmp = mkdtempSync(join(tmpdir(), "herd-bench-report-"));
try {
  let t = performance.now();
  const all = readPresolvePackages(PRESOLVE_2026);
  const packages = values.packages === undefined ? all : all.slice(0, Number(values.packages));
  const readMs = performance.now() - t;
  t = performance.now();
  const store = new Store(join(tmp, "herd.db"));
  const big = fillBigBuild(store, {
    packages,
    failRate: Number(values["fail-rate"]),
    logDir: join(tmp, "logs"),
    previous: true,
  });
  const fillMs = performance.now() - t;
  console.log(
    `synthetic build of ${packages.length} packages from presolve.zst (read ${ms(readMs)}, stored in ${ms(fillMs)}): ` +
      `${formatCounts(big.counts)}; ${big.stageRows} stage rows, ${big.logFiles} log files of failed packages`,
  );
  const dir = join(tmp, "report");
  t = performance.now();
  const model = reportModel(store, big.buildId, big.depends, big.finishedMs);
  const modelMs = performance.now() - t;
  t = performance.now();
  const html = await writeReport(dir, model);
  const writeMs = performance.now() - t;
  store.close();
  console.log(
    `report generation: ${ms(modelMs + writeMs)} (reportModel ${ms(modelMs)}, writeReport ${ms(writeMs)}); peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
  );
  const pages = readdirSync(dir).filter((f) => f.startsWith("pkg-"));
  const pageBytes = pages.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  const total = du(dir);
  console.log(`report.html ${mb(statSync(html).size)}`);
  for (const f of ["report.json", "report.txt", "report-short.txt", "timeline.svg"])
    console.log(`${f.padEnd(16)} ${mb(statSync(join(dir, f)).size)}`);
  console.log(`package pages    ${mb(pageBytes)} in ${pages.length} files`);
  const logs = du(join(dir, "logs"));
  console.log(
    `logs/            ${mb(logs.bytes)} in ${logs.files} files (copies of the failed packages' logs)`,
  );
  console.log(`report dir total ${mb(total.bytes)} in ${total.files} files`);
  if (!values["no-browser"] && existsSync(CHROMIUM)) await openInBrowser(html);
  if (values.keep) console.log(`kept: ${html}`);
} finally {
  if (!values.keep) rmSync(tmp, { recursive: true, force: true });
}
