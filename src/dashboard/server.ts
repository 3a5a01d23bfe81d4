/**
 * The dashboard's HTTP server (node:http, no framework): the page, an
 * event stream of the hub's state (a snapshot on connect, then what changed,
 * at most every flushMs), the settled packages a page at a time, stage
 * logs, the report directory, and the controls (POST, token only). Every
 * response says no-store and nosniff; the page runs under a CSP that allows
 * only its own inline script. Pages share the hub's one state: the server
 * keeps no more per page than its socket, and makes each message once for
 * all of them.
 */
import { pagerScriptSource } from "../report/lists.js";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Result } from "../protocol/result.js";
import { checkAccess, presentedToken, type AccessPolicy, type Grant } from "./access.js";
import { urlFor } from "./address.js";
import type { Change, Hub } from "./hub.js";
import { pageHtml, pageCsp } from "./page.js";
import { readLog, reportFile } from "./files.js";
import { sseComment, sseMessage, sseRetry } from "./sse.js";
import { pageOf, parsePageQuery } from "./settled.js";
import { mergeDelta, newDelta } from "./state.js";
import { LIST_PAGE, runsSnapshot, runsUpdate, stateView, updateView } from "./view.js";

/** What the operator may do from the page. */
export interface Controls {
  /** Lets the host finish what it runs, then leave. */
  drain(host: string): Promise<Result<string, string>>;
  /** Builds a failed package again (with the dependents its failure had failed). */
  retry(pkgname: string): Promise<Result<string, string>>;
}

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly policy: AccessPolicy;
  readonly hub: Hub;
  /** null: no controls (read-only whatever the token). */
  readonly controls: Controls | null;
  /** The work directory's report/, served under /report/ (null: none). */
  readonly reportDir: string | null;
  readonly flushMs?: number;
  readonly keepaliveMs?: number;
}

export interface DashboardServer {
  readonly port: number;
  /** The URL to print (with the token when there is one). */
  readonly url: string;
  /** Sends pending changes and a goodbye to every page, then stops. */
  close(message?: string): Promise<void>;
}

const COMMON_HEADERS = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
} as const;

/** Most a slow page may lag behind before it is dropped (it reconnects and gets a snapshot). */
const MAX_BUFFERED = 8 * 1024 * 1024;

/** Starts the server; resolves once it listens. */
export async function startServer(o: ServerOptions): Promise<DashboardServer> {
  const clients = new Set<ServerResponse>();
  let pending = newDelta();
  let reset = false;
  let dirty = false;
  let timer: NodeJS.Timeout | null = null;
  let lastLive = o.hub.live();
  const controlsOn = o.controls !== null && o.policy.token !== null;
  // The snapshot's body, made once per change for every page that connects meanwhile.
  let snapshotBody: string | null = null;

  const head = (): string =>
    JSON.stringify({
      now: Date.now(),
      live: o.hub.live(),
      controls: controlsOn,
      report: o.reportDir !== null && o.hub.state().finished !== null,
    });
  /** The envelope head and a body, as one JSON object. */
  const join = (body: string): string => `${head().slice(0, -1)},${body.slice(1)}`;
  const snapshot = (): string => {
    const s = o.hub.state();
    snapshotBody ??= JSON.stringify({ state: stateView(s), ...runsSnapshot(s) });
    return join(snapshotBody);
  };
  const send = (res: ServerResponse, text: string): void => {
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy();
      clients.delete(res);
      return;
    }
    res.write(text);
  };
  const flush = (): void => {
    timer = null;
    if (!dirty) return;
    dirty = false;
    lastLive = o.hub.live();
    if (clients.size > 0) {
      const s = o.hub.state();
      const msg = reset
        ? sseMessage("snapshot", snapshot())
        : sseMessage(
            "update",
            join(JSON.stringify({ state: updateView(s, pending), ...runsUpdate(s, pending) })),
          );
      for (const c of clients) send(c, msg);
    }
    reset = false;
    pending = newDelta();
  };
  const schedule = (): void => {
    dirty = true;
    timer ??= setTimeout(flush, o.flushMs ?? 250);
  };
  const unsubscribe = o.hub.subscribe((c: Change) => {
    snapshotBody = null;
    if (c.kind === "reset") reset = true;
    else mergeDelta(pending, c.delta);
    schedule();
  });
  const keepalive = setInterval(() => {
    if (o.hub.live() !== lastLive) schedule();
    for (const c of clients) send(c, sseComment("keepalive"));
  }, o.keepaliveMs ?? 15_000);

  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) reply(res, 500, "text/plain", `internal error: ${String(e)}\n`);
      else res.destroy();
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (method !== "GET" && method !== "HEAD" && method !== "POST") {
      res.setHeader("Allow", "GET, HEAD, POST");
      reply(res, 405, "text/plain", "method not allowed\n");
      return;
    }
    const access = checkAccess(o.policy, {
      method,
      host: req.headers.host,
      token: presentedToken(req),
    });
    if (!access.ok) {
      if (access.error.status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="herd"');
      reply(res, access.error.status, "text/plain", `${access.error.message}\n`);
      req.resume();
      return;
    }
    if (method === "POST") {
      req.resume();
      await control(url.pathname, access.value, res);
      return;
    }
    if (url.pathname === "/") {
      res.setHeader("Content-Security-Policy", pageCsp());
      reply(res, 200, "text/html; charset=utf-8", pageHtml(), method === "HEAD");
    } else if (url.pathname === "/events") {
      openStream(req, res);
    } else if (url.pathname === "/api/state") {
      reply(res, 200, "application/json", snapshot(), method === "HEAD");
    } else if (url.pathname === "/api/packages") {
      const q = parsePageQuery(url.searchParams, LIST_PAGE);
      if (!q.ok) reply(res, 400, "application/json", JSON.stringify({ error: q.error }));
      else
        reply(
          res,
          200,
          "application/json",
          JSON.stringify(pageOf(o.hub.state().settled, q.value)),
          method === "HEAD",
        );
    } else if (url.pathname === "/api/log") {
      const pkg = url.searchParams.get("pkg") ?? "";
      const stage = url.searchParams.get("stage") ?? "";
      const tail = Number(url.searchParams.get("tail") ?? "0");
      const file = o.hub.logFile(pkg, stage);
      const text = file === null ? null : await readLog(file, tail > 0 ? tail : undefined);
      if (text === null) reply(res, 404, "text/plain", `no log of ${stage} for ${pkg}\n`);
      else {
        res.setHeader("Content-Security-Policy", "default-src 'none'; sandbox");
        reply(res, 200, "text/plain; charset=utf-8", text, method === "HEAD");
      }
    } else if (url.pathname === "/report" || url.pathname.startsWith("/report/")) {
      const f = o.reportDir === null ? null : await reportFile(o.reportDir, url.pathname.slice(8));
      if (f === null) reply(res, 404, "text/plain", "no such report file\n");
      else {
        res.setHeader(
          "Content-Security-Policy",
          // The report's own pager (its hash), no other script: its lists page under herd serve too.
          `default-src 'none'; script-src ${pagerScriptSource()}; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'`,
        );
        reply(res, 200, f.type, f.body, method === "HEAD");
      }
    } else {
      reply(res, 404, "text/plain", "not found\n");
    }
  };

  const control = async (path: string, grant: Grant, res: ServerResponse): Promise<void> => {
    const m = /^\/api\/(hosts|packages)\/([^/]+)\/(drain|retry)$/.exec(path);
    if (m === null || (m[1] === "hosts") !== (m[3] === "drain")) {
      reply(res, 404, "application/json", JSON.stringify({ ok: false, error: "no such control" }));
      return;
    }
    if (!grant.controls || o.controls === null) {
      reply(res, 403, "application/json", JSON.stringify({ ok: false, error: "read-only" }));
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(m[2]!);
    } catch {
      reply(res, 400, "application/json", JSON.stringify({ ok: false, error: "bad name" }));
      return;
    }
    const r = m[3] === "drain" ? await o.controls.drain(name) : await o.controls.retry(name);
    reply(
      res,
      r.ok ? 200 : 409,
      "application/json",
      JSON.stringify(r.ok ? { ok: true, message: r.value } : { ok: false, error: r.error }),
    );
  };

  const openStream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      ...COMMON_HEADERS,
      "Content-Type": "text/event-stream; charset=utf-8",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.write(sseRetry(3000));
    res.write(sseMessage("snapshot", snapshot()));
    clients.add(res);
    req.on("close", () => clients.delete(res));
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;
  return {
    port,
    url: urlFor(o.host, port, o.policy.token),
    close: (message = "the build has ended") => {
      closed ??= (async () => {
        unsubscribe();
        clearInterval(keepalive);
        if (timer !== null) clearTimeout(timer);
        flush();
        const bye = sseMessage("bye", JSON.stringify({ message }));
        for (const c of clients) c.end(bye);
        clients.clear();
        await new Promise<void>((r) => {
          server.close(() => {
            r();
          });
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

function reply(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headOnly = false,
): void {
  const data = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...COMMON_HEADERS,
    "Content-Type":
      type.includes("charset") || type.startsWith("image/") ? type : `${type}; charset=utf-8`,
    "Content-Length": String(data.length),
  });
  res.end(headOnly ? undefined : data);
}
