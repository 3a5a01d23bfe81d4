/**
 * The report of a large build (tests/lib/large-report.ts) in a real browser
 * (Debian's chromium via playwright-core), opened from file:// as an
 * operator opens it: the failures come first, a page at a time, and paging,
 * filtering and unfolding show the rest; hostile names stay text.
 * Screenshots go to test-artifacts/.
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { PAGE } from "../../src/report/lists.js";
import { artifact, launchBrowser, type Browser } from "../lib/browser.js";
import { EVIL, writeLargeReport, type LargeReport } from "../lib/large-report.js";
import { scratchDir } from "../lib/scratch.js";

describe("report of a large build in a real browser", () => {
  let browser: Browser;
  let report: LargeReport;
  const dialogs: string[] = [];

  before(async () => {
    report = await writeLargeReport(scratchDir("herd-report-browser-"));
    browser = await launchBrowser();
    browser.page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });
  after(async () => {
    await browser.close();
  });

  it(
    "shows the failures first and pages, filters and unfolds the lists",
    { timeout: 120_000 },
    async () => {
      const { page } = browser;
      const m = report.model;
      const failed = m.failed.filter((f) => f.stage !== "fetch");
      await page.goto(pathToFileURL(report.html).href);
      const sections = page.locator("section");
      const ids: (string | null)[] = [];
      for (let k = 0; k < (await sections.count()); k++)
        ids.push(await sections.nth(k).getAttribute("id"));
      assert.deepEqual(ids.slice(0, 2), ["summary", "failed"]);
      assert.match(
        (await page.locator("#summary .counts").textContent()) ?? "",
        new RegExp(`^${m.total} packages: built: ${m.counts.built ?? 0}`),
      );

      // The failed list: its first page, the one breaking the most on top.
      const rows = page.locator("#failed tbody tr");
      const firstCell = (): Promise<string | null> =>
        rows.first().locator("td").first().textContent();
      assert.equal(await rows.count(), PAGE);
      assert.equal(await firstCell(), failed[0]!.pkgname);
      const where = page.locator("#failed .where");
      assert.equal(await where.textContent(), `1–${PAGE} of ${failed.length}`);
      assert.ok(await page.locator("#failed .more").isHidden(), "the no-script note goes");
      await page.screenshot({ path: artifact("report-large.png") });

      // Next page, then back.
      await page.locator("#failed .next").click();
      assert.equal(await firstCell(), failed[PAGE]!.pkgname);
      assert.equal(await rows.count(), Math.min(PAGE, failed.length - PAGE));
      assert.match((await where.textContent()) ?? "", new RegExp(`^${PAGE + 1}–`));
      await page.locator("#failed .prev").click();
      assert.equal(await firstCell(), failed[0]!.pkgname);

      // All on one page.
      await page.locator("#failed select").selectOption("all");
      assert.equal(await rows.count(), failed.length);
      assert.ok(await page.locator("#failed .next").isDisabled());

      // The filter finds the hostile package, shown as text, its link to its page intact.
      await page.locator("#failed input[type=search]").fill("<script>");
      assert.equal(await rows.count(), 1);
      assert.equal(await firstCell(), EVIL);
      assert.equal(
        await rows.first().locator("a").first().getAttribute("href"),
        "pkg-x_script_alert_1___script_-1.0.html",
      );
      assert.match((await where.textContent()) ?? "", /^1–1 of 1 \(of \d+\)$/);

      // The built list is folded away; unfolded, it pages too.
      const built = page.locator("#built tbody tr");
      assert.ok(await built.first().isHidden());
      await page.locator("#built summary").click();
      assert.ok(await built.first().isVisible());
      assert.equal(await built.count(), PAGE);
      await page.locator("#built .next").click();
      assert.equal(await built.first().locator("td").first().textContent(), m.built[PAGE]!.pkgname);
      await page.locator("#built input[type=search]").fill("victim");
      assert.equal(await built.count(), 0);
      assert.equal(await page.locator("#built .where").textContent(), "none match");

      // The timeline, drawn once scrolled to.
      await page.locator("#timeline img").scrollIntoViewIfNeeded();
      await page.waitForFunction('document.querySelector("#timeline img").naturalWidth > 0');

      // Indirect failures name their culprit, a link to its page.
      await page.locator("#indirect summary").click();
      await page.locator("#indirect input[type=search]").fill("victim-1.0");
      assert.equal(await page.locator("#indirect tbody tr").count(), 1);
      await page.locator("#indirect tbody a").click();
      await page.waitForURL(/pkg-x_script_alert_1___script_-1\.0\.html$/);
      assert.equal(await page.locator("h1").textContent(), EVIL);
      assert.equal(await page.locator("#breaks + p").textContent(), "victim-1.0");
      await page.screenshot({ path: artifact("report-large-package.png"), fullPage: true });
      assert.deepEqual(dialogs, [], "no script from package data ran");
    },
  );
});
