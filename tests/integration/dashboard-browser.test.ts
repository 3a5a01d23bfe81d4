/**
 * The live dashboard in a real browser (Debian's chromium via
 * playwright-core): a fixture build with --dashboard, watched from start to
 * end; package data holding HTML shown as text; the drain control; and
 * `herd serve` of the finished build with its report. Screenshots go to
 * test-artifacts/.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { BusHub } from "../../src/dashboard/hub.js";
import { startServer } from "../../src/dashboard/server.js";
import { EventBus } from "../../src/events/types.js";
import { ok } from "../../src/protocol/result.js";
import { Store } from "../../src/store/store.js";
import { artifact, launchBrowser, type Browser } from "../lib/browser.js";
import { gatedCompiler, startHerd, type HerdProcess } from "../lib/dashboard.js";
import { sandbox } from "../lib/fixture.js";
import { scratchDir } from "../lib/scratch.js";

const WAIT = { timeout: 120_000 };

/** Waits until `read` gives something `pred` accepts; returns it. */
async function until<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 1200; i++) {
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

describe("dashboard in a real browser", () => {
  let browser: Browser;
  const cleanups: (() => void | Promise<void>)[] = [];
  let finishedWork: string | undefined;

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await browser.close();
  });

  it(
    "follows a fixture build: hosts, progress changing, netkit failing, the end",
    { timeout: 300_000 },
    async () => {
      const gate = gatedCompiler();
      cleanups.push(() => {
        gate.remove();
      });
      const box = sandbox("dashboard", { env: { CC: gate.cc }, liveLog: 0.5 });
      cleanups.push(() => {
        rmSync(box.dir, { recursive: true, force: true });
      });
      const work = join(box.dir, "work");
      // --json keeps stdout machine-readable; the URL goes to stderr.
      const herd: HerdProcess = startHerd([
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
        "127.0.0.1:0",
        "--json",
      ]);
      cleanups.push(herd.kill);
      const url = await herd.url;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const { page } = browser;
      await page.goto(url);

      // All three hosts appear; compiles wait at the gate, so some package is seen running.
      await page.locator('#hosts tr[data-host="local3"]').first().waitFor(WAIT);
      await page.locator("#hosts a[data-pkg]").first().waitFor(WAIT);
      const rows = page.locator("#hosts tr[data-host]");
      const hosts: (string | null)[] = [];
      for (let i = 0; i < (await rows.count()); i++)
        hosts.push(await rows.nth(i).getAttribute("data-host"));
      assert.deepEqual([...new Set(hosts)].sort(), ["local1", "local2", "local3"]);
      assert.match(await text(page, "#conn"), /live/);
      assert.match(await text(page, "#title"), /^herd build 1$/);
      const before = await text(page, "#progress-text");
      assert.match(before, /^\d+ \/ 27 packages/);

      // A package held at the gate in its build stage: its log pane shows that stage live,
      // the compile command it waits in, which the master streamed before the stage ended.
      const state = async (): Promise<{ pkgname: string; stage: string }[]> => {
        const r = (await (await fetch(new URL("/api/state", url))).json()) as {
          state: { hosts: { running: { pkgname: string; stage: string }[] }[] };
        };
        return r.state.hosts.flatMap((h) => h.running);
      };
      // (Only the packages that compile wait at the gate; the others pass through build at once.)
      const compiles = (p: { pkgname: string; stage: string }): boolean =>
        p.stage === "build" && /^(libstr|libfmt|mkgen|wordy|fetchy|netmon)-/.test(p.pkgname);
      const inBuild = await until("a compiling package in its build stage", state, (ps) =>
        ps.some(compiles),
      );
      const held = inBuild.find(compiles)!.pkgname;
      await page.locator(`#hosts a[data-pkg="${held}"]`).first().click();
      await until(
        "the running stage's live log",
        () => text(page, "#log-text"),
        (t) => /gated-cc/.test(t),
      );
      assert.match(
        await text(page, "#log-title"),
        new RegExp(`${held.replace(/[.+]/g, "\\$&")}: build`),
      );
      assert.match(await text(page, "#log-note"), /live/);
      assert.deepEqual(
        (await state()).find((p) => p.pkgname === held)?.stage,
        "build",
        "the stage had not ended",
      );
      await page.screenshot({ path: artifact("dashboard-live-log.png"), fullPage: true });

      gate.open();
      const later = await until(
        "progress to change",
        () => text(page, "#progress-text"),
        (t) => t !== before,
      );
      assert.match(later, /^\d+ \/ 27 packages/);

      const row = page.locator('#failures tr[data-pkg="netkit-0.3"]');
      await row.waitFor(WAIT);
      const rowText = (await row.textContent()) ?? "";
      assert.match(rowText, /build/);
      assert.match(rowText, /NETKIT_DEFAULT_PORT/);
      // Its failed stage's log opens from the row.
      const href = await row.locator("a.failed-stage").getAttribute("href");
      assert.ok(href !== null);
      const log = await (await fetch(new URL(href, url))).text();
      assert.match(log, /undeclared/);

      await page.locator("#banner.done").waitFor(WAIT);
      assert.match(await text(page, "#banner"), /Build 1 finished: .*24 built.*2 failed/);
      assert.match(await text(page, "#progress-text"), /^27 \/ 27 packages \(100%\)$/);
      // The counts row says what the banner says, in the same order.
      const chips = await page.locator("#counts .chip").allTextContents();
      const banner = await text(page, "#banner");
      const said = /finished: (.*?)\. /.exec(banner)?.[1] ?? "";
      assert.deepEqual(
        chips.map((c) => c.replace(/^(\S+) (\d+)$/, "$2 $1")),
        said.split(", "),
        banner,
      );
      // The timeline is redrawn at most once a second; 12 packages run (2 more fail indirectly).
      await until(
        "a bar per package run",
        () => page.locator("#timeline svg rect.bar").count(),
        (n) => n >= 12,
      );
      assert.equal(await page.locator("#timeline svg rect.r-failed").count(), 1);
      await page.screenshot({ path: artifact("dashboard.png"), fullPage: true });

      assert.equal(await herd.exited, 0, herd.stderr());
      // The page was told the build ended.
      await until(
        "the goodbye",
        () => text(page, "#conn"),
        (t) => /stopped serving/.test(t),
      );
      finishedWork = work;
    },
  );

  it(
    "shows package names, reasons and logs holding HTML as text, and drains with the token",
    { timeout: 120_000 },
    async () => {
      const dir = scratchDir("herd-dash-evil-");
      cleanups.push(() => {
        rmSync(dir, { recursive: true, force: true });
      });
      const EVIL = `<img src=x onerror="window.pwned=1">-1.0`;
      const HOST = "<b>host</b>";
      const store = new Store(join(dir, "herd.db"));
      const buildId = store.startBuild("/t", "id", Date.now());
      const log = join(dir, "configure.log");
      writeFileSync(
        log,
        `checking...\n<img src=y onerror="window.pwned=2">\n</pre><script>window.pwned=3</script>\n`,
      );
      store.recordStage(buildId, {
        pkgname: EVIL,
        pkgpath: "cat/evil",
        stage: "configure",
        host: HOST,
        startedMs: 0,
        wallMs: 5,
        status: 1,
        log,
      });
      const bus = new EventBus();
      const hub = new BusHub(bus, () => store);
      const TOKEN = "browser-test-token-0123";
      const drained: string[] = [];
      const server = await startServer({
        host: "127.0.0.1",
        port: 0,
        policy: { token: TOKEN, requireToken: false },
        hub,
        controls: {
          drain: (h) => {
            drained.push(h);
            return Promise.resolve(ok(`host ${h} is draining`));
          },
          retry: (p) => Promise.resolve(ok(`${p} is queued again`)),
        },
        reportDir: null,
        flushMs: 20,
      });
      cleanups.push(async () => {
        await server.close();
        hub.close();
      });
      bus.emit({
        type: "build-start",
        build: buildId,
        tree: "/t<i>",
        treeId: "id",
        resumed: false,
        targets: ["configure"],
      });
      bus.emit({ type: "host", host: HOST, state: "idle" });
      bus.emit({
        type: "host",
        host: HOST,
        state: "note",
        detail: "<script>window.pwned=4</script>",
      });
      bus.emit({ type: "package-start", pkgname: EVIL, pkgpath: "cat/evil", host: HOST });
      bus.emit({
        type: "stage",
        pkgname: EVIL,
        host: HOST,
        stage: "configure",
        status: 1,
        wallMs: 5,
      });
      bus.emit({
        type: "package-end",
        pkgname: EVIL,
        pkgpath: "cat/evil",
        host: HOST,
        result: "failed",
        stage: "configure",
        reason: `configure failed: <a href="javascript:alert(1)">x</a>`,
        wallMs: 5,
      });
      bus.emit({ type: "warning", message: "<svg onload=window.pwned=5>" });

      const { page } = browser;
      // Opened with the token: controls show, and the token leaves the address bar.
      await page.goto(`${server.url.replace(/\?.*$/, "")}?token=${TOKEN}`);
      const row = page.locator("#failures tbody tr").first();
      await row.waitFor(WAIT);
      assert.equal(await row.getAttribute("data-pkg"), EVIL);
      assert.match((await row.textContent()) ?? "", /<img src=x onerror="window\.pwned=1">-1\.0/);
      assert.match((await row.textContent()) ?? "", /<a href="javascript:alert\(1\)">x<\/a>/);
      assert.equal(await text(page, "#hosts tbody td"), HOST);
      assert.match(await text(page, "#warnings"), /<svg onload=window\.pwned=5>/);
      assert.match(await text(page, "#tree"), /^\/t<i>/);
      // The failure's log is shown in the log panel, as text.
      await until(
        "the log",
        () => text(page, "#log-text"),
        (t) => t.includes("</script>"),
      );
      assert.match(await text(page, "#log-text"), /<img src=y onerror="window\.pwned=2">/);
      // Nothing from the data became markup, nothing ran.
      assert.equal(
        await page
          .locator("img, script[src], #failures a[href^='javascript'], #hosts b, #warnings svg")
          .count(),
        0,
      );
      assert.equal(await page.evaluate("typeof window.pwned"), "undefined");
      assert.equal(new URL(page.url()).search, "", "the token is not left in the address bar");
      await page.screenshot({ path: artifact("dashboard-escaping.png"), fullPage: true });

      await page.locator("#hosts button").first().click();
      await until(
        "the drain reply",
        () => text(page, "#notice"),
        (t) => /is draining/.test(t),
      );
      assert.deepEqual(drained, [HOST]);
    },
  );

  it(
    "herd serve shows the finished build and its report, with the critical path",
    { timeout: 120_000 },
    async (t) => {
      if (finishedWork === undefined) {
        t.skip("needs the build of the first test");
        return;
      }
      const serve = startHerd(["serve", "--work", finishedWork, "127.0.0.1:0"]);
      cleanups.push(serve.kill);
      const url = await serve.url;
      const { page } = browser;
      await page.goto(url);
      await page.locator("#banner.done").waitFor(WAIT);
      assert.match(await text(page, "#conn"), /live/);
      assert.equal(await page.locator('#failures tr[data-pkg="netkit-0.3"]').count(), 1);
      assert.equal(await page.locator("#hosts tr[data-host]").count(), 3);
      await page.locator("#banner a").click();
      await page.waitForURL(/\/report\/$/);
      for (const id of [
        "summary",
        "failed",
        "indirect",
        "skipped",
        "maintainers",
        "hosts",
        "timeline",
        "diff",
      ])
        assert.equal(await page.locator(`section#${id}`).count(), 1, id);
      const critical = await text(page, "#critical-path");
      // Which chain is longest depends on measured times; it has at least three links here.
      assert.match(critical, /^Critical path \(in orange\): \S+( → \S+){2,}, [\d.]+ s of building/);
      await page.screenshot({ path: artifact("serve-report.png"), fullPage: true });
      const svg = readFileSync(join(finishedWork, "report/timeline.svg"), "utf8");
      assert.ok(
        (svg.match(/class="bar crit"/g) ?? []).length >= 3,
        "critical bars in the timeline",
      );
      serve.stop();
      assert.equal(await serve.exited, 0, serve.stderr());
    },
  );
});
