/**
 * Tree sync by rsync, for ssh hosts where both ends have it: the master runs
 * rsync with `-e` set to the host's own ssh command line, so it rides the
 * shared ControlMaster connection the agent runs over. Same result as the
 * tar delta (the top-level distfiles and packages of the copy are kept,
 * work and VCS directories go), but the host compares by size and mtime
 * instead of reading every file.
 */
import { spawn, spawnSync } from "node:child_process";
import { shQuote } from "../../agent/agent.js";
import { err, ok, type Result } from "../../protocol/result.js";
import type { TreeFilter } from "./treemanifest.js";

/** How to reach a host's agent root with rsync. */
export interface RsyncRoute {
  /** ssh and its options, without the destination. */
  readonly ssh: readonly string[];
  /** [user@]host */
  readonly destination: string;
  /** rsync on the host (the agent's hello lists it). */
  readonly remoteRsync: string;
  /** The agent's root on the host (absolute). */
  readonly root: string;
  /** The master's rsync; default "rsync". */
  readonly rsync?: string;
}

export interface RsyncOutcome {
  /** Bytes rsync sent (its --stats "Total bytes sent"). */
  readonly bytes: number;
  /** Bytes rsync received ("Total bytes received"). */
  readonly received: number;
  readonly files: number;
  readonly removed: number;
}

let localRsync: boolean | undefined;

/** Whether the master has rsync on its PATH (asked once). */
export function masterHasRsync(): boolean {
  localRsync ??= spawnSync("sh", ["-c", "command -v rsync"], { stdio: "ignore" }).status === 0;
  return localRsync;
}

/**
 * rsync's `-e` value: it splits on spaces and honours quotes, but has no
 * escapes, so a word holding both kinds of quote cannot be passed (null).
 */
export function rsyncShell(argv: readonly string[]): string | null {
  const words: string[] = [];
  for (const w of argv) {
    if (/^[A-Za-z0-9_./:=@%,+-]+$/.test(w)) words.push(w);
    else if (!w.includes("'")) words.push(`'${w}'`);
    else if (!w.includes('"')) words.push(`"${w}"`);
    else return null;
  }
  return words.join(" ");
}

/** The rsync command line for a tree and a destination directory (relative to the root). */
export function rsyncArgv(
  tree: string,
  dest: string,
  route: RsyncRoute,
  filter: TreeFilter,
): string[] | null {
  const rsh = rsyncShell(route.ssh);
  if (rsh === null || /[\n\0]/.test(route.root + dest)) return null;
  return [
    route.rsync ?? "rsync",
    "-rlpt",
    "--delete",
    "--delete-excluded",
    // Path names go to the remote rsync as data, not through its shell.
    "--protect-args",
    "--stats",
    `--rsync-path=${shQuote(route.remoteRsync)}`,
    "-e",
    rsh,
    // Excluded from what is sent; with --delete-excluded they are removed on
    // the host, but for the protected top-level directories.
    ...filter.excludeTop.map((t) => `--filter=P /${t}`),
    ...filter.excludeTop.map((t) => `--filter=- /${t}`),
    ...filter.excludePaths.map((p) => `--filter=- /${p}`),
    ...filter.excludeNames.map((n) => `--filter=- ${n}/`),
    "--",
    `${tree.replace(/\/+$/, "")}/`,
    `${route.destination}:${route.root}/${dest}/`,
  ];
}

function stat(text: string, label: string): number {
  const m = new RegExp(`^${label}: ([0-9,.]+)`, "m").exec(text);
  return m === null ? 0 : Number(m[1]!.replace(/[,.]/g, ""));
}

/** Runs rsync; any failure is a value (the caller falls back to the tar delta). */
export function runRsync(
  argv: readonly string[],
  timeoutMs = 6 * 3600_000,
): Promise<Result<RsyncOutcome, string>> {
  return new Promise((settle) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let errText = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (errText = (errText + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      settle(err(`cannot run rsync: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        settle(
          err(
            `rsync ${signal ?? `exited ${String(code)}`}: ${errText.trim().split("\n").at(-1) ?? ""}`,
          ),
        );
        return;
      }
      settle(
        ok({
          bytes: stat(out, "Total bytes sent"),
          received: stat(out, "Total bytes received"),
          files: stat(out, "Number of regular files transferred"),
          removed: stat(out, "Number of deleted files"),
        }),
      );
    });
  });
}
