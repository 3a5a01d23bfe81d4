/**
 * A private view of one path for a local host. A pkgsrc bootstrap's prefix
 * is compiled into its bmake and pkg tools, so several local hosts built from
 * one bootstrap would all install into the same directory. Run each local
 * agent in its own mount namespace instead (as bob's sandboxes do), where
 * that path is bind-mounted from the host's own directory: every host sees
 * "the" prefix, and each one sees its own.
 *
 * The result is the `shell` argv LocalTransport takes: the transport runs
 * `SHELL... -c BOOTSTRAP herd-agent ROOT`, and the bootstrap later execs
 * `SHELL... AGENT-SCRIPT ROOT`. A small gate in front enters the namespace
 * the first time only (an environment mark tells it it is already inside),
 * so the second exec does not nest another namespace.
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export const SANDBOX_KINDS = ["none", "unshare", "bwrap"] as const;
export type SandboxKind = (typeof SANDBOX_KINDS)[number];

/** `source` (the host's own directory) appears at `target` inside the host's namespace. */
export interface PrivateMount {
  readonly source: string;
  readonly target: string;
}

export interface SandboxOptions {
  readonly kind: SandboxKind;
  readonly mounts: readonly PrivateMount[];
  /** The shell that runs the agent inside, e.g. ["sh"]. */
  readonly shell: readonly string[];
  /** Whether the master runs as root (unshare then needs no user namespace). */
  readonly root: boolean;
}

/** Set in the namespace, so the agent's re-exec does not enter another one. */
const MARK = "HERD_SANDBOXED";

// sh -c GATE herd-sandbox N ENTER(N words)... SHELL... ARGS...
const GATE = [
  "n=$1; shift",
  `if [ "\${${MARK}-}" = 1 ]; then shift "$n"; fi`,
  `${MARK}=1; export ${MARK}`,
  'exec "$@"',
].join("; ");

// Before entering: every SOURCE and TARGET directory exists (bind mounts need both).
const MKDIRS = [
  'while [ "$1" != -- ]; do mkdir -p "$1" "$2" || exit 111; shift 2; done',
  "shift",
  'exec "$@"',
].join("; ");

// Inside the new namespace: bind every SOURCE TARGET pair, then run the rest.
const MOUNT = [
  'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 111; shift 2; done',
  "shift",
  'exec "$@"',
].join("; ");

/** The argv that runs `shell` with the private mounts; the plain shell for kind "none". */
export function sandboxShell(o: SandboxOptions): readonly string[] {
  if (o.kind === "none" || o.mounts.length === 0) return o.shell;
  const pairs = o.mounts.flatMap((m) => [m.source, m.target]);
  const enter = [
    "sh",
    "-c",
    MKDIRS,
    "herd-mkdirs",
    ...pairs,
    "--",
    ...(o.kind === "unshare"
      ? [
          "unshare",
          ...(o.root ? [] : ["--map-root-user"]),
          "--mount",
          "--propagation",
          "private",
          "--",
          "sh",
          "-c",
          MOUNT,
          "herd-mount",
          ...pairs,
          "--",
        ]
      : [
          "bwrap",
          "--dev-bind",
          "/",
          "/",
          ...o.mounts.flatMap((m) => ["--bind", m.source, m.target]),
          "--",
        ]),
  ];
  return ["sh", "-c", GATE, "herd-sandbox", String(enter.length), ...enter, ...o.shell];
}

/** Why this machine cannot run the sandbox kind, or undefined when it can. */
export function sandboxProblem(
  kind: SandboxKind,
  path = process.env.PATH ?? "",
): string | undefined {
  if (kind === "none") return undefined;
  const found = path.split(delimiter).some((d) => d !== "" && existsSync(join(d, kind)));
  if (!found)
    return kind === "unshare"
      ? "unshare (util-linux) is not installed"
      : "bwrap is not installed (Debian package bubblewrap)";
  return undefined;
}

/** The shell of a local host whose `localbase` (when set) is private to it: ROOT/pkg seen there. */
export function localHostShell(
  c: { readonly sandbox: SandboxKind; readonly localbase: string },
  root: string,
  shell: readonly string[],
): readonly string[] {
  return sandboxShell({
    kind: c.sandbox,
    mounts: c.localbase === "" ? [] : [{ source: join(root, "pkg"), target: c.localbase }],
    shell,
    root: process.getuid?.() === 0,
  });
}
