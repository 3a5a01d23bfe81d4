import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { fullRun } from "../../bench/lib/fullscale-run.js";
import { expectedOutcomes } from "../../bench/lib/simpkgsrc.js";
import type { DashboardServer } from "../../src/dashboard/server.js";
import { workDashboard } from "../../src/dashboard/start.js";
import { PAGE } from "../../src/report/lists.js";
import { artifact, launchBrowser, type Browser } from "../lib/browser.js";
import { CLI } from "../lib/paths.js";
import { scratchDir } from "../lib/scratch.js";

const WAIT = { timeout: 60_000 };

/** How many packages the store says are built, in its newest build. */
function builtInStore(masterWork: string): number {
  const db = new Database(join(masterWork, "herd.db"), { readonly: true });
  try {
    return (
      db
        .prepare(
          "SELECT COUNT(*) AS n FROM packages WHERE state = 'built' AND build_id = (SELECT MAX(id) FROM builds)",
        )
        .get() as { n: number }
    ).n;
  } finally {
    db.close();
  }
}

// The full-size run (bench/fullscale.ts) at a reduced size: the real `herd
// build` CLI on a few thousand packages of the real 2026 scan, a farm of
// simulated attach hosts in a process of its own, SIGKILLed half-way and run
// again. Chromium watches it on `herd serve`'s dashboard from the kill to the
// end, and opens its report.
test(
  "thousands of packages of the real 2026 scan through the real master, SIGKILLed half-way and resumed: the outcome herd resolve and the injected failures call for, nothing built twice",
  { timeout: 1_200_000 },
  async () => {
    const work = scratchDir("herd-fullscale-");
    const seed = "ci";
    const failRate = 0.05;
    let browser: Browser | undefined;
    let server: DashboardServer | undefined;
    let builtAtKill = -1;
    const builtShown = (n: number): Promise<void> =>
      browser!.page.locator(`#counts [data-count="built"] b:text-is("${n}")`).waitFor(WAIT);
    try {
      const r = await fullRun({
        work,
        hosts: 8,
        dirs: 200,
        scale: 0.0005,
        failRate,
        seed,
        killAt: 0.5,
        timeoutSeconds: 1000,
        // The killed build on the dashboard: what the store holds, then the resumed master's progress.
        afterKill: async (masterWork) => {
          browser = await launchBrowser();
          server = await workDashboard({
            addr: "127.0.0.1:0",
            token: undefined,
            work: masterWork,
            pollMs: 200,
          });
          builtAtKill = builtInStore(masterWork);
          await browser.page.goto(server.url);
          await builtShown(builtAtKill);
        },
      });
      const presolve = join(work, "presolve");
      execFileSync(process.execPath, [CLI, "resolve", "-o", presolve, r.scanFile], {
        stdio: "ignore",
      });
      const want = expectedOutcomes(readFileSync(presolve, "latin1"), seed, failRate);
      // A run of some size, with failures that break dependents.
      assert.ok(r.packages > 1500, `${r.packages} packages`);
      assert.ok(want.built.size > 500, `${want.built.size} to build`);
      assert.ok(want.failed.size > 10 && want.indirect.size > 10);

      assert.equal(r.runs.length, 2, "the master was killed and run again");
      const [first, second] = [r.runs[0]!, r.runs[1]!];
      assert.ok(first.killed && first.built.length > 0, "killed after it had built some");
      assert.equal(second.exit, 0, second.stderr.slice(-2000));

      for (const n of want.built) assert.equal(r.states.get(n), "built", n);
      for (const [n, stage] of want.failed) assert.equal(r.failedAt.get(n), stage, n);
      for (const n of want.indirect) assert.equal(r.states.get(n), "indirect-failed", n);
      assert.equal(r.counts.built, want.built.size);
      assert.equal(r.failedAt.size, want.failed.size);

      // Nothing built twice: what the first master built, the second never started.
      const before = new Set(first.built);
      assert.deepEqual(
        second.started.filter((n) => before.has(n)),
        [],
      );
      assert.equal(new Set([...first.built, ...second.built]).size, want.built.size);

      // The report names every failure.
      const reportFile = join(work, "w", "report", "report.html");
      const report = readFileSync(reportFile, "utf8");
      for (const n of want.failed.keys()) assert.ok(report.includes(n), `${n} in the report`);

      // The dashboard followed the resumed master to the end.
      assert.ok(
        builtAtKill > 0 && builtAtKill < want.built.size,
        `${builtAtKill} built at the kill`,
      );
      await builtShown(want.built.size);
      await browser!.page.screenshot({ path: artifact("fullscale-dashboard.png") });

      // The report in Chromium: every failure in its list, the built packages a page at a time.
      const { page } = browser!;
      await page.goto(pathToFileURL(reportFile).href);
      // A list longer than a page has a pager: show it all.
      if ((await page.locator("#failed select").count()) > 0)
        await page.locator("#failed select").selectOption("all");
      const failedRows = await page.locator("#failed tbody tr td:first-child").allTextContents();
      for (const n of want.failed.keys())
        assert.ok(failedRows.includes(n), `${n} in the failed list`);
      const built = page.locator("#built tbody tr");
      await page.locator("#built summary").click();
      assert.equal(await built.count(), PAGE);
      const page1 = (await built.first().locator("td").first().textContent()) ?? "";
      await page.locator("#built .next").click();
      const page2 = (await built.first().locator("td").first().textContent()) ?? "";
      assert.ok(page1 !== page2 && want.built.has(page2), `${page1} then ${page2}`);
      await page.locator("#built input[type=search]").fill(page1);
      // Names holding that one's (a longer name may) and nothing else.
      const found = await page.locator("#built tbody tr td:first-child").allTextContents();
      assert.ok(found.includes(page1) && found.length < PAGE, found.join(" "));
      for (const n of found) assert.ok(n.includes(page1), n);
    } finally {
      await server?.close();
      await browser?.close();
    }
  },
);
