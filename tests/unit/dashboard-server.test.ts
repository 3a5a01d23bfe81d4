/**
 * The dashboard server over real HTTP on 127.0.0.1: the page, the event
 * stream (snapshot, updates, goodbye), token rules, logs, report files, the
 * drain control, and `herd serve`'s store hub.
 */
import assert from "node:assert/strict";
import { request, type IncomingMessage } from "node:http";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Script } from "node:vm";
import { BusHub, StoreHub } from "../../src/dashboard/hub.js";
import { pageHtml } from "../../src/dashboard/page.js";
import {
  startServer,
  type DashboardServer,
  type ServerOptions,
} from "../../src/dashboard/server.js";
import { parseSse, type ParsedMessage } from "../../src/dashboard/sse.js";
import type { Page } from "../../src/dashboard/settled.js";
import { MAX_RUNS, type RunView } from "../../src/dashboard/timeline.js";
import { LIST_PAGE, type StateView } from "../../src/dashboard/view.js";
import { EventBus, type BuildEvent } from "../../src/events/types.js";
import { ok } from "../../src/protocol/result.js";
import { Store } from "../../src/store/store.js";
import { scratchDir } from "../lib/scratch.js";

const TOKEN = "test-token-0123456789";
const EVIL = `<img src=x onerror="alert(1)">-1.0`;

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

function http(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: opts.headers ?? {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

interface Envelope {
  readonly live: boolean;
  readonly controls: boolean;
  readonly state: StateView;
  readonly runs: RunView[];
}

/** An open event stream: the messages so far, and a way to wait for one. */
function stream(
  port: number,
  path = "/events",
): Promise<{
  messages: () => ParsedMessage[];
  waitFor: (pred: (m: ParsedMessage) => boolean) => Promise<ParsedMessage>;
  ended: Promise<void>;
  close: () => void;
}> {
  return new Promise((resolve, reject) => {
    let text = "";
    const waiters: (() => void)[] = [];
    const req = request({ host: "127.0.0.1", port, path }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
      res.setEncoding("utf8");
      const ended = new Promise<void>((r) => res.on("end", r));
      res.on("data", (d: string) => {
        text += d;
        for (const w of waiters.splice(0)) w();
      });
      const messages = (): ParsedMessage[] => parseSse(text.slice(0, text.lastIndexOf("\n\n") + 2));
      resolve({
        messages,
        ended,
        close: () => req.destroy(),
        waitFor: async (pred) => {
          for (let i = 0; i < 200; i++) {
            const m = messages().find(pred);
            if (m !== undefined) return m;
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 50);
            });
          }
          throw new Error(`no such message in ${text.slice(0, 500)}`);
        },
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const dirs: string[] = [];
const servers: DashboardServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A work-directory-like setup: a store with one build and a stage log, a report dir, a bus. */
function setup(): { dir: string; store: Store; bus: EventBus; buildId: number; report: string } {
  const dir = scratchDir("herd-dash-");
  dirs.push(dir);
  const store = new Store(join(dir, "herd.db"));
  const buildId = store.startBuild("/t", "id", 0);
  const log = join(dir, "build.log");
  writeFileSync(log, "line 1\n<script>alert(2)</script>\nerror: it broke\n");
  store.recordStage(buildId, {
    pkgname: EVIL,
    pkgpath: "cat/evil",
    stage: "build",
    host: "h1",
    startedMs: 0,
    wallMs: 5,
    status: 1,
    log,
  });
  const report = join(dir, "report");
  mkdirSync(join(report, "logs"), { recursive: true });
  writeFileSync(join(report, "report.html"), "<!doctype html><title>report</title>");
  writeFileSync(join(report, "logs", "pkg-x-build.log.txt"), "log text");
  writeFileSync(join(dir, "secret.txt"), "not for the web");
  return { dir, store, bus: new EventBus(), buildId, report };
}

async function serve(
  o: Partial<ServerOptions> & Pick<ServerOptions, "hub">,
): Promise<DashboardServer> {
  const s = await startServer({
    host: "127.0.0.1",
    port: 0,
    policy: { token: null, requireToken: false },
    controls: null,
    reportDir: null,
    flushMs: 10,
    ...o,
  });
  servers.push(s);
  return s;
}

function emitBuild(bus: EventBus, buildId: number): void {
  const events: BuildEvent[] = [
    {
      type: "build-start",
      build: buildId,
      tree: "/t",
      treeId: "id",
      resumed: false,
      targets: ["build"],
    },
    { type: "host", host: "h1", state: "idle" },
    { type: "package-start", pkgname: EVIL, pkgpath: "cat/evil", host: "h1" },
  ];
  for (const e of events) bus.emit(e);
}

describe("dashboard server", () => {
  it("serves one self-contained page under a strict CSP", async () => {
    const { store, bus } = setup();
    const s = await serve({ hub: new BusHub(bus, () => store) });
    const r = await http(s.port, "/");
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /^text\/html/);
    const csp = String(r.headers["content-security-policy"]);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(r.body, pageHtml());
    // Nothing loaded from elsewhere: no src= or stylesheet links, no URLs but the SVG namespace.
    assert.doesNotMatch(r.body, /<script[^>]+src=|<link[^>]+stylesheet|<img /);
    assert.deepEqual(r.body.match(/https?:\/\/[^"' )]+/g), ["http://www.w3.org/2000/svg"]);
    // The script is valid JavaScript (compiled, not run).
    const script = /<script>([\s\S]*)<\/script>/.exec(r.body)?.[1] ?? "";
    assert.ok(script.length > 1000);
    assert.doesNotThrow(() => new Script(script));
    assert.equal((await http(s.port, "/nope")).status, 404);
    assert.equal((await http(s.port, "/", { method: "DELETE" })).status, 405);
  });

  it("streams a snapshot, then updates as events arrive, then a goodbye on close", async () => {
    const { store, bus, buildId } = setup();
    const s = await serve({ hub: new BusHub(bus, () => store) });
    const es = await stream(s.port);
    const first = await es.waitFor((m) => m.event === "snapshot");
    assert.equal((JSON.parse(first.data) as Envelope).state.build, null);
    emitBuild(bus, buildId);
    const snap = await es.waitFor((m) => m.event === "snapshot" && m.data.includes("onerror"));
    const env = JSON.parse(snap.data) as Envelope;
    // The name travels as JSON data; the page puts it in the DOM as text.
    assert.equal(env.state.hosts[0]?.running[0]?.pkgname, EVIL);
    assert.equal(env.runs[0]?.pkgname, EVIL);
    bus.emit({ type: "stage", pkgname: EVIL, host: "h1", stage: "build", status: 1, wallMs: 5 });
    bus.emit({
      type: "package-end",
      pkgname: EVIL,
      pkgpath: "cat/evil",
      host: "h1",
      result: "failed",
      stage: "build",
      reason: "<b>bad</b>",
      wallMs: 9,
    });
    const upd = await es.waitFor((m) => m.event === "update" && m.data.includes("failed"));
    const u = JSON.parse(upd.data) as Envelope;
    assert.equal(u.state.failures?.[0]?.reason, "<b>bad</b>");
    assert.deepEqual(
      u.runs.map((r) => [r.id, r.result]),
      [[0, "failed"]],
    );
    // Every message is well framed: event name, data lines, blank line.
    for (const m of es.messages()) assert.ok(["snapshot", "update"].includes(m.event), m.event);
    await s.close("the build has ended");
    await es.ended;
    const bye = es.messages().at(-1);
    assert.equal(bye?.event, "bye");
    assert.deepEqual(JSON.parse(bye.data), { message: "the build has ended" });
  });

  it("serves only the logs the store names, and the report directory without escaping it", async () => {
    const { store, bus, buildId, report } = setup();
    const s = await serve({ hub: new BusHub(bus, () => store), reportDir: report });
    emitBuild(bus, buildId);
    const q = (pkg: string, stage: string, extra = ""): string =>
      `/api/log?pkg=${encodeURIComponent(pkg)}&stage=${encodeURIComponent(stage)}${extra}`;
    const log = await http(s.port, q(EVIL, "build"));
    assert.equal(log.status, 200);
    assert.match(String(log.headers["content-type"]), /^text\/plain/);
    assert.match(String(log.headers["content-security-policy"]), /sandbox/);
    assert.match(log.body, /<script>alert\(2\)<\/script>/, "served as plain text, unchanged");
    const tail = await http(s.port, q(EVIL, "build", "&tail=20"));
    assert.match(tail.body, /^\[\.\.\. the first \d+ bytes .*\]\nerror: it broke\n$/);
    assert.equal((await http(s.port, q(EVIL, "configure"))).status, 404);
    assert.equal((await http(s.port, q("../../secret", "build"))).status, 404);
    assert.equal((await http(s.port, "/report/")).body, "<!doctype html><title>report</title>");
    assert.equal((await http(s.port, "/report/logs/pkg-x-build.log.txt")).body, "log text");
    for (const bad of [
      "/report/../secret.txt",
      "/report/%2e%2e/secret.txt",
      "/report/..%2fsecret.txt",
      "/report/logs/../../herd.db",
    ])
      assert.equal((await http(s.port, bad)).status, 404, bad);
  });

  it("refuses foreign Host headers and, off loopback, anything without the token", async () => {
    const { store, bus } = setup();
    const open = await serve({ hub: new BusHub(bus, () => store) });
    assert.equal(
      (await http(open.port, "/api/state", { headers: { host: "evil.example" } })).status,
      403,
    );
    const post = await http(open.port, "/api/hosts/h1/drain", { method: "POST" });
    assert.equal(post.status, 403, "read-only without a token");

    const drained: string[] = [];
    const retried: string[] = [];
    // Bound to 127.0.0.1 but with the policy of a non-loopback address.
    const locked = await serve({
      hub: new BusHub(bus, () => store),
      policy: { token: TOKEN, requireToken: true },
      controls: {
        drain: (h) => {
          drained.push(h);
          return Promise.resolve(ok(`host ${h} is draining`));
        },
        retry: (p) => {
          retried.push(p);
          return Promise.resolve(ok(`${p} is queued again`));
        },
      },
    });
    assert.match(locked.url, /\?token=test-token-0123456789$/);
    for (const path of ["/", "/events", "/api/state", "/api/log?pkg=x&stage=y", "/report/"]) {
      const r = await http(locked.port, path);
      assert.equal(r.status, 401, path);
      assert.equal(r.headers["www-authenticate"], 'Bearer realm="herd"');
      assert.equal(
        (
          await http(
            locked.port,
            `${path}${path.includes("?") ? "&" : "?"}token=wrong-token-0123456789`,
          )
        ).status,
        401,
      );
    }
    assert.equal((await http(locked.port, `/?token=${TOKEN}`)).status, 200);
    assert.equal(
      (await http(locked.port, "/api/state", { headers: { authorization: `Bearer ${TOKEN}` } }))
        .status,
      200,
    );
    const es = await stream(locked.port, `/events?token=${TOKEN}`);
    const env = JSON.parse((await es.waitFor((m) => m.event === "snapshot")).data) as Envelope;
    assert.equal(env.controls, true);
    es.close();

    assert.equal((await http(locked.port, "/api/hosts/h1/drain", { method: "POST" })).status, 401);
    const ok1 = await http(locked.port, "/api/hosts/h%2F1/drain", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok1.status, 200);
    assert.deepEqual(JSON.parse(ok1.body), { ok: true, message: "host h/1 is draining" });
    assert.deepEqual(drained, ["h/1"]);
    const none = await http(locked.port, "/api/hosts/h1/retry", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(none.status, 404);
    assert.equal(
      (await http(locked.port, "/api/packages/x-1.0/retry", { method: "POST" })).status,
      401,
    );
    const again = await http(locked.port, "/api/packages/x-1.0/retry", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(again.status, 200);
    assert.deepEqual(retried, ["x-1.0"]);
  });

  it("pages the settled packages, newest first, and sends pages bounded snapshots", async () => {
    const { store, bus, buildId } = setup();
    const hub = new BusHub(bus, () => store);
    const s = await serve({ hub });
    const locked = await serve({ hub, policy: { token: TOKEN, requireToken: true } });
    emitBuild(bus, buildId);
    for (let i = 0; i < 1200; i++) {
      const pkgname = `p${i}-1.0`;
      bus.emit({ type: "package-start", pkgname, pkgpath: `cat/p${i}`, host: `h${i % 7}` });
      bus.emit({
        type: "package-end",
        pkgname,
        pkgpath: `cat/p${i}`,
        host: `h${i % 7}`,
        result: i % 10 === 0 ? "failed" : "built",
        stage: "build",
        reason: `reason ${i}`,
        wallMs: 1,
      });
    }
    const page = async (query: string): Promise<Reply & { json: Page }> => {
      const r = await http(s.port, `/api/packages${query}`);
      return { ...r, json: JSON.parse(r.body) as Page };
    };
    const failed = await page("?state=failed&offset=50&limit=50");
    assert.equal(failed.status, 200);
    assert.match(String(failed.headers["content-type"]), /^application\/json/);
    assert.equal(failed.json.total, 120);
    assert.equal(failed.json.items.length, 50);
    assert.deepEqual(
      failed.json.items.slice(0, 1).map((v) => [v.pkgname, v.reason]),
      [["p690-1.0", "reason 690"]],
    );
    const all = await page("");
    assert.equal(all.json.total, 1200);
    assert.deepEqual(
      all.json.items.slice(0, 2).map((v) => [v.pkgname, v.result]),
      [
        ["p1199-1.0", "built"],
        ["p1198-1.0", "built"],
      ],
    );
    const found = await page("?q=p119&limit=500");
    assert.equal(found.json.total, 11);
    for (const bad of ["?state=running", "?offset=-5", "?limit=x"])
      assert.equal((await http(s.port, `/api/packages${bad}`)).status, 400, bad);
    assert.equal((await http(locked.port, "/api/packages")).status, 401);
    assert.equal(
      (await http(locked.port, `/api/packages?token=${TOKEN}&state=failed`)).status,
      200,
    );
    // The snapshot holds a page of each list and the timeline's newest runs, not all 1,200.
    const env = JSON.parse((await http(s.port, "/api/state")).body) as Envelope & {
      runsTotal: number;
    };
    assert.equal(env.state.failures?.length, LIST_PAGE);
    assert.equal(env.state.recent?.length, LIST_PAGE);
    assert.equal(env.state.counts.built, 1080);
    assert.equal(env.runsTotal, 1201);
    assert.equal(env.runs.length, MAX_RUNS + 1, "the closed runs kept and the one still running");
  });

  it("herd serve's hub replays the store, follows it, and switches to a newer build", () => {
    const { dir, store } = setup();
    const b = store.lastBuild()!.id;
    // Each write committed at once (an autocommit): herd serve reads another connection.
    const put = (id: number, t: number, e: BuildEvent): void => {
      store.appendEvent(id, t, e.type, e);
    };
    put(b, 10, { type: "build-start", build: b, tree: "/t", treeId: "id", resumed: false });
    put(b, 11, { type: "package-start", pkgname: "a-1", pkgpath: "c/a", host: "h1" });
    put(b, 12, { type: "progress", done: 0, total: 2, running: 1, etaSeconds: 9 });
    const hub = new StoreHub(new Store(join(dir, "herd.db")), join(dir, "herd.lock"), 0);
    const changes: string[] = [];
    hub.subscribe((c) =>
      changes.push(c.kind === "reset" ? "reset" : `runs ${[...c.delta.runs].join(",")}`),
    );
    assert.equal(hub.state().build?.id, b);
    assert.equal(hub.state().progress?.etaSeconds, 9);
    assert.equal(hub.live(), false, "no master holds the lock");
    assert.equal(hub.logFile(EVIL, "build"), join(dir, "build.log"));
    put(b, 13, {
      type: "package-end",
      pkgname: "a-1",
      pkgpath: "c/a",
      host: "h1",
      result: "built",
      wallMs: 2,
    });
    hub.poll();
    hub.poll();
    assert.deepEqual(changes, ["runs 0"]);
    assert.equal(hub.state().counts.built, 1);
    writeFileSync(join(dir, "herd.lock"), `${process.pid}\n`);
    assert.equal(hub.live(), true, "a live pid holds the lock");
    const b2 = store.startBuild("/t", "id2", 20);
    put(b2, 21, { type: "build-start", build: b2, tree: "/t", treeId: "id2", resumed: false });
    hub.poll();
    assert.deepEqual(changes, ["runs 0", "reset"]);
    assert.equal(hub.state().build?.id, b2);
    assert.equal(hub.state().timeline.runs.size, 0);
    hub.close();
  });
});
