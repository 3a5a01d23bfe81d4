/**
 * The wire messages of the herd protocol (see README.md in this directory).
 * Master → agent: text lines, free-form fields (paths, argv words, env
 * entries) on lines of their own, file data in acknowledged chunks.
 * Agent → master: one header line per message, optionally followed by
 * payloads whose sizes and cksum CRCs the header gives.
 */
import { err, ok, type Result } from "./result.js";

export const PROTOCOL_VERSION = 1;

/** The line that ends the agent script on the bootstrap's stdin. */
export const SCRIPT_END_MARKER = "#herd-agent-end";

export type Signal = "TERM" | "KILL" | "INT" | "HUP";

/** How a task's output is captured: stdout and stderr in one log, or apart. */
export type OutputMode = "merge" | "split";

/**
 * A run message's mode: an output mode, or `steps`: the argv is several
 * commands, each preceded by its number of words and its cwd (stepsArgv),
 * run in turn with their output merged, each reported by a `step` message as
 * it ends (the message's own cwd is not used).
 */
export type RunMode = OutputMode | "steps";

export interface RunRequest {
  readonly id: number;
  readonly argv: readonly string[];
  /** Relative paths are relative to the agent root. */
  readonly cwd: string;
  readonly env: readonly (readonly [string, string])[];
  readonly output: RunMode;
}

/** The argv of a `steps` run: each step's word count, its cwd, then its words. */
export function stepsArgv(
  steps: readonly { readonly argv: readonly string[]; readonly cwd: string }[],
): string[] {
  const out: string[] = [];
  for (const s of steps) {
    if (s.argv.length === 0) throw new Error("bug: an empty step");
    out.push(String(s.argv.length), s.cwd, ...s.argv);
  }
  return out;
}

export interface EncodeError {
  readonly reason: "bad-field";
  readonly message: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkLine(what: string, s: string): EncodeError | null {
  if (s.includes("\n") || s.includes("\0")) {
    return {
      reason: "bad-field",
      message: `${what} contains a newline or NUL: ${JSON.stringify(s)}`,
    };
  }
  return null;
}

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0) throw new Error(`bug: bad request id ${id}`);
}

export function encodePing(seq: number): string {
  checkId(seq);
  return `ping ${seq}\n`;
}

/** A run message; fails (as a value) when a field cannot travel on one line. */
export function encodeRun(req: RunRequest): Result<string, EncodeError> {
  checkId(req.id);
  const lines = [`run ${req.id} ${req.argv.length} ${req.env.length} ${req.output}`, req.cwd];
  const bad = checkLine("cwd", req.cwd);
  if (bad) return err(bad);
  if (req.argv.length === 0) return err({ reason: "bad-field", message: "argv is empty" });
  for (const [name, value] of req.env) {
    if (!ENV_NAME.test(name)) {
      return err({
        reason: "bad-field",
        message: `bad environment variable name ${JSON.stringify(name)}`,
      });
    }
    const b = checkLine(`environment variable ${name}`, value);
    if (b) return err(b);
    lines.push(`${name}=${value}`);
  }
  for (const w of req.argv) {
    const b = checkLine("argument", w);
    if (b) return err(b);
    lines.push(w);
  }
  return ok(lines.join("\n") + "\n");
}

export function encodeKill(id: number, signal: Signal): string {
  checkId(id);
  return `kill ${id} ${signal}\n`;
}

export function encodePutStart(
  id: number,
  path: string,
  mode: number,
): Result<string, EncodeError> {
  checkId(id);
  const bad = checkLine("path", path);
  if (bad) return err(bad);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
    throw new Error(`bug: bad mode ${mode}`);
  return ok(`put ${id} ${mode.toString(8).padStart(3, "0")}\n${path}\n`);
}

export function encodeChunkHeader(id: number, size: number): string {
  return `chunk ${id} ${size}\n`;
}

export function encodePutEnd(id: number, size: number, crc: number): string {
  return `end ${id} ${size} ${crc}\n`;
}

export function encodePutAbort(id: number): string {
  return `abort ${id}\n`;
}

export function encodeGet(id: number, path: string): Result<string, EncodeError> {
  checkId(id);
  const bad = checkLine("path", path);
  if (bad) return err(bad);
  return ok(`get ${id}\n${path}\n`);
}

export const EXIT = "exit\n";

/** A payload announced by a header: its size and `cksum` CRC. */
export interface PayloadSpec {
  readonly size: number;
  readonly crc: number;
}

/** Agent → master header lines. */
export type AgentHeader =
  | { readonly verb: "hello"; readonly proto: number; readonly payloads: readonly [PayloadSpec] }
  | { readonly verb: "pong"; readonly seq: number }
  | { readonly verb: "started"; readonly id: number; readonly pid: number }
  | { readonly verb: "ack"; readonly id: number }
  | { readonly verb: "ok"; readonly id: number }
  | { readonly verb: "err"; readonly id: number; readonly reason: string }
  | { readonly verb: "proto"; readonly reason: string }
  | {
      readonly verb: "done";
      readonly id: number;
      readonly status: number;
      /** Wall seconds measured on the host (`date +%s`), null if it has no such clock. */
      readonly seconds: number | null;
      readonly payloads: readonly [PayloadSpec, PayloadSpec];
    }
  | {
      readonly verb: "step";
      readonly id: number;
      /** The step's number, from 1, in the order of the run's steps. */
      readonly step: number;
      readonly status: number;
      readonly payloads: readonly [PayloadSpec];
    }
  | { readonly verb: "file"; readonly id: number; readonly payloads: readonly [PayloadSpec] };

function uint(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,15}$/.test(s)) return null;
  return Number(s);
}

function payloadAt(words: readonly string[], i: number): PayloadSpec | null {
  const size = uint(words[i]);
  const crc = uint(words[i + 1]);
  return size === null || crc === null ? null : { size, crc };
}

/** Parses one agent header line (without its newline); null if malformed. */
export function parseAgentHeader(line: string): AgentHeader | null {
  const w = line.split(" ");
  const n = (i: number): number | null => uint(w[i]);
  switch (w[0]) {
    case "hello": {
      const proto = n(1);
      const p = payloadAt(w, 2);
      return proto === null || p === null || w.length !== 4
        ? null
        : { verb: "hello", proto, payloads: [p] };
    }
    case "pong": {
      const seq = n(1);
      return seq === null || w.length !== 2 ? null : { verb: "pong", seq };
    }
    case "started": {
      const id = n(1);
      const pid = n(2);
      return id === null || pid === null || w.length !== 3 ? null : { verb: "started", id, pid };
    }
    case "ack":
    case "ok": {
      const id = n(1);
      return id === null || w.length !== 2 ? null : { verb: w[0], id };
    }
    case "err": {
      const id = n(1);
      return id === null || w.length < 3 ? null : { verb: "err", id, reason: w.slice(2).join(" ") };
    }
    case "proto":
      return { verb: "proto", reason: w.slice(1).join(" ") };
    case "done": {
      const id = n(1);
      const status = n(2);
      const seconds = w[3] === "-" ? null : n(3);
      const p1 = payloadAt(w, 4);
      const p2 = payloadAt(w, 6);
      if (id === null || status === null || p1 === null || p2 === null || w.length !== 8)
        return null;
      if (seconds === null && w[3] !== "-") return null;
      return { verb: "done", id, status, seconds, payloads: [p1, p2] };
    }
    case "step": {
      const id = n(1);
      const step = n(2);
      const status = n(3);
      const p = payloadAt(w, 4);
      return id === null || step === null || status === null || p === null || w.length !== 6
        ? null
        : { verb: "step", id, step, status, payloads: [p] };
    }
    case "file": {
      const id = n(1);
      const p = payloadAt(w, 2);
      return id === null || p === null || w.length !== 4
        ? null
        : { verb: "file", id, payloads: [p] };
    }
    default:
      return null;
  }
}
