/**
 * The dashboard of a large build in a real browser (Debian's chromium via
 * playwright-core): 3,000 packages played on 40 hosts (tests/lib/bigbuild.ts)
 * written to a work directory's store as `herd build` writes them, served
 * as `herd serve` serves it. The page shows the counts and the hosts, pages
 * through the failures and the finished packages (with the filters), says
 * the timeline holds the latest runs only, and follows the build as more
 * events reach the store. A screenshot goes to test-artifacts/.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { workPaths } from "../../src/bulk/layout.js";
import type { DashboardServer } from "../../src/dashboard/server.js";
import { workDashboard } from "../../src/dashboard/start.js";
import { Store } from "../../src/store/store.js";
import { artifact, launchBrowser, type Browser } from "../lib/browser.js";
import {
  appendEvents,
  cutAtSettled,
  simulateBuild,
  syntheticTree,
  type TimedEvent,
} from "../lib/bigbuild.js";
import { scratchDir } from "../lib/scratch.js";

const WAIT = { timeout: 60_000 };

async function until<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 600; i++) {
    last = await read();
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

function text(page: Page, selector: string): Promise<string> {
  return page
    .locator(selector)
    .first()
    .textContent()
    .then((t) => t ?? "");
}

/** One attribute of every match, read in one step: the page may re-render the list between two reads. */
function attrs(page: Page, selector: string, name: string): Promise<(string | null)[]> {
  type El = { getAttribute(n: string): string | null };
  return page
    .locator(selector)
    .evaluateAll((els: El[], n: string) => els.map((e) => e.getAttribute(n)), name);
}

function rowNames(page: Page, table: string): Promise<(string | null)[]> {
  return attrs(page, `#${table} tbody tr`, "data-pkg");
}

/** Names per result in the order they settled. */
function settled(events: readonly TimedEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = { built: [], failed: [], "indirect-failed": [] };
  for (const { e } of events)
    if (e.type === "package-end" && e.result !== "lost") out[e.result]!.push(e.pkgname);
    else if (e.type === "indirect-failed") out["indirect-failed"]!.push(e.pkgname);
  return out;
}

describe("dashboard of a large build in a real browser", () => {
  let browser: Browser;
  let server: DashboardServer | undefined;
  const work = scratchDir("herd-dash-large-");

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await server?.close();
    await browser.close();
    rmSync(work, { recursive: true, force: true });
  });

  it(
    "shows the counts, pages through the failures and finished packages, follows new events",
    { timeout: 180_000 },
    async () => {
      const paths = workPaths(work);
      const store = new Store(paths.db);
      const buildId = store.startBuild("/usr/pkgsrc", "big", Date.now());
      const sim = simulateBuild(syntheticTree(3000), {
        buildId,
        hosts: 40,
        failRate: 0.08,
        seed: 5,
      });
      const { head, tail } = cutAtSettled(sim.events, 1800);
      const base = Date.now() - head.at(-1)!.t;
      appendEvents(store, buildId, head, base);
      // This process holds the lock: the build is running.
      writeFileSync(paths.lock, `${process.pid}\n`);
      const now = settled(head);
      const failed = now.failed!;
      assert.ok(failed.length > 120, `${failed.length} failures: more than two pages`);

      server = await workDashboard({ addr: "127.0.0.1:0", token: undefined, work, pollMs: 100 });
      const { page } = browser;
      await page.goto(server.url);
      await page
        .locator(`#counts [data-count="built"] b:text-is("${now.built!.length}")`)
        .waitFor(WAIT);
      assert.match(await text(page, "#conn"), /live/);
      assert.equal(await text(page, '#counts [data-count="failed"] b'), String(failed.length));
      const hosts = await page.locator("#hosts tbody").evaluateAll((b) => b.length);
      assert.equal(hosts, 40, "one tbody per host");
      assert.ok((await page.locator("#hosts a[data-pkg]").count()) > 0, "packages are running");

      // The failures: the newest 50 came with the stream; older pages are read on demand.
      const newestFirst = [...failed].reverse();
      const total = failed.length;
      assert.equal(await text(page, "#failures-range"), `(1\u201350 of ${total}, newest first)`);
      assert.deepEqual(await rowNames(page, "failures"), newestFirst.slice(0, 50));
      const older = page.locator('#failures-pager [data-go="older"]');
      const newer = page.locator('#failures-pager [data-go="newer"]');
      assert.equal(await newer.isDisabled(), true);
      let shown = 50;
      for (let p = 1; shown < total; p++) {
        await older.click();
        const to = Math.min(total, (p + 1) * 50);
        await until(
          `failures ${p * 50 + 1}-${to}`,
          () => text(page, "#failures-range"),
          (t) => t === `(${p * 50 + 1}\u2013${to} of ${total}, newest first)`,
        );
        assert.deepEqual(await rowNames(page, "failures"), newestFirst.slice(p * 50, to));
        shown = to;
      }
      assert.equal(await older.isDisabled(), true, "no page after the oldest");
      await newer.click();
      await until(
        "a newer page",
        () => text(page, "#failures-range"),
        (t) => t.startsWith(`(${Math.ceil(total / 50 - 2) * 50 + 1}\u2013`),
      );

      // Finished packages: by result, and by name.
      const indirect = now["indirect-failed"]!;
      await page.locator("#finished-state").selectOption("indirect-failed");
      await until(
        "the indirect failures",
        () => text(page, "#finished-range"),
        (t) =>
          t === `(1\u2013${Math.min(50, indirect.length)} of ${indirect.length}, newest first)`,
      );
      const results = await attrs(page, "#finished tbody tr", "data-result");
      assert.ok(
        results.length > 0 && results.every((r) => r === "indirect-failed"),
        results.join(),
      );
      assert.match(await text(page, "#finished tbody tr td.reason"), /^because \S+ failed$/);
      await page.locator("#finished-state").selectOption("settled");
      const one = now.built![100]!;
      await page.locator("#finished-q").fill(one.replace(/-1\.\d$/, "-"));
      await until(
        `only ${one}`,
        () => rowNames(page, "finished"),
        (names) => names.length === 1 && names[0] === one,
      );
      assert.equal(await text(page, "#finished-range"), "(1\u20131 of 1 matching, newest first)");
      await page.locator("#finished-q").fill("");

      // The timeline holds the open runs and the newest closed ones, and says so.
      await until(
        "the timeline",
        () => text(page, "#timeline-title"),
        (t) => /^Timeline: the latest \d+ of \d+ package runs$/.test(t),
      );
      await page.evaluate("window.scrollTo(0, 0)");
      await page.screenshot({ path: artifact("dashboard-large.png") });

      // The build goes on: more events reach the store, the page follows.
      const next = tail.slice(0, 800);
      const later = settled([...head, ...next]);
      assert.ok(later.built!.length > now.built!.length);
      const s2 = new Store(paths.db);
      appendEvents(s2, buildId, next, base);
      s2.close();
      await page
        .locator(`#counts [data-count="built"] b:text-is("${later.built!.length}")`)
        .waitFor(WAIT);
      await until(
        "the new failures' total",
        () => text(page, '#counts [data-count="failed"] b'),
        (t) => t === String(later.failed!.length),
      );
      // Back to the newest failures: the live first page.
      for (let i = 0; i < 200 && !(await newer.isDisabled()); i++) await newer.click();
      await until(
        "the newest failures",
        () => rowNames(page, "failures"),
        (names) => names[0] === later.failed!.at(-1),
      );
      assert.equal(
        await text(page, "#failures-range"),
        `(1\u201350 of ${later.failed!.length}, newest first)`,
      );
      store.close();
    },
  );
});
