/**
 * The README's screenshots, taken from a real build of the fixture tree on 3
 * local hosts: docs/dashboard.png (the live dashboard mid-build, once netkit
 * has failed) and docs/report.png (the finished build's report.html). Each
 * compile is slowed by a second so the dashboard has something to show.
 * Not a benchmark; it lives here because bench/ is compiled but not tested.
 * Usage: npx tsc -p . && node dist/bench/screenshots.js [OUTDIR]
 */
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { launchBrowser } from "../tests/lib/browser.js";
import { gatedCompiler, startHerd } from "../tests/lib/dashboard.js";
import { sandbox } from "../tests/lib/fixture.js";
import { ROOT } from "../tests/lib/paths.js";

const out = resolve(process.argv[2] ?? join(ROOT, "docs"));
mkdirSync(out, { recursive: true });
const gate = gatedCompiler(1);
gate.open();
const box = sandbox("screenshots", { env: { CC: gate.cc } });
const work = join(box.dir, "work");
const browser = await launchBrowser({ width: 1280, height: 860 });
const herd = startHerd([
  "build",
  "--tree",
  box.tree,
  "--local",
  "3",
  "--work",
  work,
  "-c",
  box.config,
  "--dashboard",
  "--json",
]);
try {
  const { page } = browser;
  await page.goto(await herd.url);
  const wait = { timeout: 120_000 };
  await page.locator('#failures tr[data-pkg="netkit-0.3"]').waitFor(wait);
  // A moment with several hosts at work, the log panel filled and the timeline redrawn.
  for (let i = 0; i < 100 && (await page.locator("#hosts a[data-pkg]").count()) < 2; i++)
    await page.waitForTimeout(100);
  await page.waitForTimeout(1200);
  await page.screenshot({ path: join(out, "dashboard.png") });
  process.stdout.write(`${join(out, "dashboard.png")}\n`);
  const code = await herd.exited;
  if (code !== 0) throw new Error(`herd build exited ${String(code)}:\n${herd.stderr()}`);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto(pathToFileURL(join(work, "report/report.html")).href);
  await page.screenshot({ path: join(out, "report.png"), fullPage: true });
  process.stdout.write(`${join(out, "report.png")}\n`);
} finally {
  herd.kill();
  await browser.close();
  gate.remove();
  rmSync(box.dir, { recursive: true, force: true });
}
