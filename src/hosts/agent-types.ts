/** The values a live agent link deals in: what a task is and returns, and how requests fail. */
import type { OutputMode, Signal } from "../protocol/messages.js";
import type { Result } from "../protocol/result.js";

/** The link is gone or garbled: the operation may be retried on another host. */
export interface LinkFailure {
  readonly reason: "lost" | "corrupt";
  readonly message: string;
}

/** A request failed: the link failed, the agent refused it, or a local source failed. */
export type RequestFailure =
  LinkFailure | { readonly reason: "rejected" | "local"; readonly message: string };

export interface AgentInfo {
  readonly proto: number;
  readonly agentVersion: string;
  readonly pid: number;
  /** The agent's root directory on the host (absolute). */
  readonly root: string;
  readonly uname: string;
  readonly caps: readonly string[];
  /** Tools found on the host's PATH, name → path. */
  readonly tools: ReadonlyMap<string, string>;
}

export interface RunSpec {
  readonly argv: readonly string[];
  /** Relative to the agent root; default the root. */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** "merge" (default): stderr goes to the same log; "split": kept apart. */
  readonly output?: OutputMode;
}

/** A task of several commands run in turn on the host (the agent's `steps` capability). */
export interface StepsSpec {
  /** Each step's argv and cwd (relative to the agent root; default the root); the first that fails is the last run. */
  readonly steps: readonly { readonly argv: readonly string[]; readonly cwd?: string }[];
  readonly env?: Readonly<Record<string, string>>;
}

/** One step's end: its exit status and its output (stdout and stderr merged). */
export interface StepOutput {
  readonly status: number;
  readonly output: Buffer;
}

export interface TaskResult {
  /** Exit status; 128+N when killed by signal N; 125 when cwd does not exist; 127 not found. */
  readonly status: number;
  /** stdout (with stderr when merged). */
  readonly output: Buffer;
  /** stderr when split, else empty. */
  readonly stderr: Buffer;
  /** Seconds measured on the host, null when it has no `date +%s`. */
  readonly hostSeconds: number | null;
  /** Milliseconds from sending the request to receiving the result, on the master. */
  readonly wallMs: number;
}

export interface RunningTask {
  readonly id: number;
  readonly result: Promise<Result<TaskResult, RequestFailure>>;
  /** Signals the task's process on the host; its result still arrives. */
  kill(signal?: Signal): void;
}

/** Reads the key=value lines of the agent's hello. */
export function parseHello(text: string): AgentInfo {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const tools = new Map<string, string>();
  for (const [k, v] of kv) if (k.startsWith("tool.")) tools.set(k.slice(5), v);
  return {
    proto: Number(kv.get("proto") ?? 0),
    agentVersion: kv.get("agent") ?? "",
    pid: Number(kv.get("pid") ?? 0),
    root: kv.get("root") ?? "",
    uname: kv.get("uname") ?? "",
    caps: (kv.get("caps") ?? "").split(",").filter((s) => s !== ""),
    tools,
  };
}
