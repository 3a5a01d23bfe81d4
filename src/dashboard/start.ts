/**
 * Starting the dashboard from the CLI: the address and token rules turned
 * into a server, for a running build (`herd build --dashboard`) or for a
 * work directory (`herd serve`).
 */
import { existsSync } from "node:fs";
import type { BuildControl } from "../bulk/control.js";
import { workPaths } from "../bulk/layout.js";
import { UserError } from "../cli/errors.js";
import { hostName } from "../core/hostspec.js";
import type { EventBus } from "../events/types.js";
import { controlRequest } from "../hosts/control.js";
import type { HostPool } from "../hosts/pool.js";
import { err, ok, type Result } from "../protocol/result.js";
import { Store } from "../store/store.js";
import { newToken, validToken, type AccessPolicy } from "./access.js";
import { isLoopback, parseAddress, type ListenAddress } from "./address.js";
import { BusHub, StoreHub, type Hub } from "./hub.js";
import { startServer, type Controls, type DashboardServer } from "./server.js";

/** The environment variable that may hold the token (keeps it out of `ps`). */
export const TOKEN_ENV = "HERD_DASHBOARD_TOKEN";

export interface DashboardRequest {
  /** ADDR as given (undefined: 127.0.0.1 on a free port). */
  readonly addr: string | undefined;
  /** --token, else $HERD_DASHBOARD_TOKEN, else generated when the address is not loopback. */
  readonly token: string | undefined;
  readonly hub: Hub;
  readonly controls: Controls | null;
  readonly reportDir: string | null;
}

/**
 * The address to listen on and who may do what: a token given (--token or
 * $HERD_DASHBOARD_TOKEN) is used; off loopback one is generated if none is
 * given, and every request needs it.
 */
export function dashboardAccess(
  addrText: string | undefined,
  tokenGiven: string | undefined,
): Result<{ listen: ListenAddress; policy: AccessPolicy }, string> {
  const addr = parseAddress(addrText);
  if (!addr.ok) return err(`dashboard address ${addr.error}`);
  const loopback = isLoopback(addr.value.host);
  let token: string | null = null;
  if (tokenGiven !== undefined && tokenGiven !== "") {
    const v = validToken(tokenGiven);
    if (!v.ok) return err(`dashboard token: ${v.error}`);
    token = v.value;
  } else if (!loopback) token = newToken();
  return ok({ listen: addr.value, policy: { token, requireToken: !loopback } });
}

/** Starts a dashboard server; a bad address or token, or a busy port, is a UserError. */
export async function openDashboard(r: DashboardRequest): Promise<DashboardServer> {
  const a = dashboardAccess(r.addr, r.token ?? process.env[TOKEN_ENV]);
  if (!a.ok)
    throw new UserError(
      "usage",
      a.error,
      "ADDR is PORT, HOST:PORT or [V6]:PORT; a token has 16 or more printable characters",
    );
  const { listen, policy } = a.value;
  try {
    return await startServer({
      host: listen.host,
      port: listen.port,
      policy,
      hub: r.hub,
      controls: r.controls,
      reportDir: r.reportDir,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new UserError(
      "dashboard",
      `cannot serve the dashboard on ${listen.host}:${listen.port}: ${code === "EADDRINUSE" ? "the port is in use" : (e as Error).message}`,
      "choose another ADDR (port 0 takes any free port)",
      { cause: e },
    );
  }
}

/** The dashboard of the build this process runs: fed by its bus, drains hosts of its pool. */
export async function buildDashboard(o: {
  readonly addr: string | undefined;
  readonly token: string | undefined;
  readonly bus: EventBus;
  readonly pool: HostPool;
  readonly control: BuildControl;
  readonly work: string;
}): Promise<DashboardServer> {
  const paths = workPaths(o.work);
  const hub = new BusHub(
    o.bus,
    () => (existsSync(paths.db) ? new Store(paths.db) : null),
    paths.logs,
  );
  try {
    return wrapClose(
      await openDashboard({
        addr: o.addr,
        token: o.token,
        hub,
        reportDir: paths.report,
        controls: {
          drain: (name) => {
            const r = o.pool.drain(hostName(name));
            return Promise.resolve(r.ok ? ok(`host ${name} is draining`) : err(r.error.message));
          },
          retry: (pkgname) => Promise.resolve(o.control.retry(pkgname)),
        },
      }),
      hub,
    );
  } catch (e) {
    hub.close();
    throw e;
  }
}

/** The dashboard of a work directory's latest build (`herd serve`), live while a master writes it. */
export async function workDashboard(o: {
  readonly addr: string | undefined;
  readonly token: string | undefined;
  readonly work: string;
  readonly pollMs: number;
}): Promise<DashboardServer> {
  const paths = workPaths(o.work);
  if (!existsSync(paths.db))
    throw new UserError(
      "serve",
      `${o.work} is not a herd work directory (no herd.db)`,
      "pass the --work directory of herd build",
    );
  const hub = new StoreHub(new Store(paths.db), paths.lock, o.pollMs, paths.logs);
  try {
    return wrapClose(
      await openDashboard({
        addr: o.addr,
        token: o.token,
        hub,
        reportDir: paths.report,
        // Controls reach the running master through its control socket.
        controls: {
          drain: async (name) => {
            const r = await controlRequest(paths.control, { op: "drain", name });
            if (!r.ok) return err(`no running master to ask: ${r.error}`);
            return r.value.ok
              ? ok(r.value.message ?? `host ${name} is draining`)
              : err(r.value.error);
          },
          retry: (pkgname) =>
            Promise.resolve(
              err(
                `retry ${pkgname} from the dashboard of the running build (herd build --dashboard)`,
              ),
            ),
        },
      }),
      hub,
    );
  } catch (e) {
    hub.close();
    throw e;
  }
}

function wrapClose(server: DashboardServer, hub: Hub): DashboardServer {
  return {
    port: server.port,
    url: server.url,
    close: async (message) => {
      await server.close(message);
      hub.close();
    },
  };
}
