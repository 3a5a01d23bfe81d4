/**
 * The control service of the master socket: `herd hosts list|add|drain|remove`
 * send one JSON request line and read one JSON reply line.
 */
import type { Socket } from "node:net";
import { hostName } from "../core/hostspec.js";
import { err, ok, type Result } from "../protocol/result.js";
import { parseHostsFile, type HostEntry } from "./hostsfile.js";
import type { HostPool } from "./pool.js";
import { connectMaster, readFirstLine, type ServiceHandler } from "./socket.js";
import { describeState } from "./state.js";

export type ControlRequest =
  | { readonly op: "list" }
  | { readonly op: "add"; readonly line: string }
  | { readonly op: "drain"; readonly name: string }
  | { readonly op: "remove"; readonly name: string };

export interface HostRow {
  readonly name: string;
  readonly state: string;
  readonly detail: string;
  readonly slots: number;
  readonly free: number;
  readonly speed: number;
  readonly transport: string;
  readonly tags: readonly string[];
  readonly failures: number;
  readonly uname: string | null;
  /** What each busy slot runs. */
  readonly tasks: readonly { readonly slot: number; readonly label: string }[];
}

export type ControlReply =
  | { readonly ok: true; readonly hosts?: readonly HostRow[]; readonly message?: string }
  | { readonly ok: false; readonly error: string };

/** What the control service needs from the running master. */
export interface ControlTarget {
  readonly pool: HostPool;
  /** Adds a host described by a hosts-file line (already parsed). */
  add(entry: HostEntry): Result<void, string>;
}

/** Rows for `herd hosts list`. */
export function hostRows(pool: HostPool): HostRow[] {
  return pool.list().map((h) => ({
    name: h.name,
    state: h.state.kind,
    detail: describeState(h.state),
    slots: h.slots,
    free: h.free,
    speed: h.speed,
    transport: h.transport,
    tags: h.tags,
    failures: h.failures,
    uname: h.info?.uname ?? null,
    tasks: h.tasks.map((t) => ({ slot: t.slot, label: t.label })),
  }));
}

/** Answers one request. */
export function handleControl(target: ControlTarget, req: ControlRequest): ControlReply {
  switch (req.op) {
    case "list":
      return { ok: true, hosts: hostRows(target.pool) };
    case "add": {
      const parsed = parseHostsFile(req.line, "herd hosts add");
      if (!parsed.ok)
        return { ok: false, error: parsed.error.message.replace(/^herd hosts add:1: /, "") };
      const entry = parsed.value[0];
      if (entry === undefined || parsed.value.length !== 1)
        return { ok: false, error: "give exactly one host" };
      const r = target.add(entry);
      return r.ok
        ? { ok: true, message: `host ${entry.name} added` }
        : { ok: false, error: r.error };
    }
    case "drain": {
      const r = target.pool.drain(hostName(req.name));
      return r.ok
        ? { ok: true, message: `host ${req.name} is draining` }
        : { ok: false, error: r.error.message };
    }
    case "remove": {
      const r = target.pool.remove(hostName(req.name), "removed by the operator");
      return r.ok
        ? { ok: true, message: `host ${req.name} removed` }
        : { ok: false, error: r.error.message };
    }
  }
}

function parseRequest(line: string): ControlRequest | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.op === "list") return { op: "list" };
  if (o.op === "add" && typeof o.line === "string") return { op: "add", line: o.line };
  if ((o.op === "drain" || o.op === "remove") && typeof o.name === "string")
    return { op: o.op, name: o.name };
  return null;
}

/** The `control` service of the master socket. */
export function controlService(target: ControlTarget): ServiceHandler {
  return (socket: Socket, _args, rest) => {
    if (rest.length > 0) socket.unshift(rest);
    readFirstLine(socket, (line) => {
      const req = line === null ? null : parseRequest(line);
      const reply: ControlReply =
        req === null ? { ok: false, error: "bad request" } : handleControl(target, req);
      socket.end(JSON.stringify(reply) + "\n");
    });
    socket.resume();
  };
}

/** Sends one request to the master at `socketPath`; a missing master is an error value. */
export async function controlRequest(
  socketPath: string,
  req: ControlRequest,
): Promise<Result<ControlReply, string>> {
  let s: Socket;
  try {
    s = await connectMaster(socketPath, "control");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ECONNREFUSED")
      return err(`no herd master is running (no socket at ${socketPath})`);
    return err(`cannot reach the master at ${socketPath}: ${(e as Error).message}`);
  }
  s.write(JSON.stringify(req) + "\n");
  return new Promise((res) => {
    let text = "";
    s.on("data", (d: Buffer) => (text += d.toString()));
    s.on("error", (e) => {
      res(err(`the master's socket failed: ${e.message}`));
    });
    s.on("close", () => {
      try {
        res(ok(JSON.parse(text) as ControlReply));
      } catch {
        res(
          err(text.startsWith("refused") ? text.trim() : "the master sent a reply we cannot read"),
        );
      }
    });
  });
}
