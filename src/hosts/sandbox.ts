/**
 * Slots: the isolated build environments of one host. A host with `slots=N`
 * builds N packages at once, each in its own slot with its own prefix
 * (LOCALBASE), PKG_DBDIR, PACKAGES and WRKOBJDIR under ROOT/slots/K; the
 * dependency packages it receives are cached once in ROOT/cache for all of
 * them.
 *
 * A real pkgsrc bootstrap compiles its prefix into bmake and the pkg tools,
 * so every slot would install into the same directory. Each command of slot
 * K then runs inside a sandbox where that path is slot K's own directory:
 *
 * - `unshare` / `bwrap` (Linux): a mount namespace per command in which
 *   ROOT/slots/K/pkg is bind-mounted over `localbase` (as bob's sandboxes
 *   do); the mounts vanish with the command, the slot's files stay.
 * - a hook (any system): a command template from the hosts file, e.g.
 *   `chroot /sandbox/slot{slot}` over null mounts made as pkgsrc's
 *   `mksandbox` does; `{slot}` and `{root}` are replaced, and herd adds a
 *   `cd` to the task's directory after it (chroot starts in `/`).
 *
 * The agent itself runs outside every sandbox: only the commands of a slot
 * enter one.
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { RunSpec } from "./agent-types.js";

export const SANDBOX_KINDS = ["none", "unshare", "bwrap"] as const;
export type SandboxKind = (typeof SANDBOX_KINDS)[number];

/** How the commands of a slot see their private prefix. */
export type SlotSandbox =
  | { readonly kind: "none" }
  | {
      readonly kind: "unshare" | "bwrap";
      /** The path each slot sees as its own (the bootstrap's prefix). */
      readonly target: string;
    }
  | { readonly kind: "hook"; readonly template: readonly string[] };

export const NO_SANDBOX: SlotSandbox = { kind: "none" };

/** Paths of slot K (1-based) on a host, relative to the agent root. */
export function slotPaths(slot: number): {
  readonly dir: string;
  readonly prefix: string;
  readonly pkgdb: string;
  readonly packages: string;
  readonly work: string;
} {
  const dir = `slots/${slot}`;
  return {
    dir,
    prefix: `${dir}/pkg`,
    pkgdb: `${dir}/pkg/.pkgdb`,
    packages: `${dir}/packages`,
    work: `${dir}/work`,
  };
}

// Before entering, the slot's directory and the mount point exist (bind mounts
// need both); then a mount namespace (a user namespace too unless root) in
// which the slot's directory covers the shared path. Arguments: SRC TARGET CMD...
const UNSHARE = [
  'mkdir -p -- "$1" "$2" || exit 111',
  'm=; [ "$(id -u)" = 0 ] || m=--map-root-user',
  `exec unshare $m --mount --propagation private -- sh -c 'mount --bind "$1" "$2" || exit 111; shift 2; exec "$@"' herd-mount "$@"`,
].join("; ");
const BWRAP = [
  'mkdir -p -- "$1" "$2" || exit 111',
  "src=$1; dst=$2; shift 2",
  'exec bwrap --dev-bind / / --bind "$src" "$dst" -- "$@"',
].join("; ");
// After a hook (chroot starts in /): back to the task's directory.
const CD = 'cd -- "$1" || exit 125; shift; exec "$@"';

/** The spec that runs `spec` inside slot `slot`'s sandbox on a host whose agent root is `root`. */
export function inSlot(sb: SlotSandbox, slot: number, root: string, spec: RunSpec): RunSpec {
  switch (sb.kind) {
    case "none":
      return spec;
    case "unshare":
    case "bwrap": {
      const src = `${root}/${slotPaths(slot).prefix}`;
      const script = sb.kind === "unshare" ? UNSHARE : BWRAP;
      return { ...spec, argv: ["sh", "-c", script, "herd-slot", src, sb.target, ...spec.argv] };
    }
    case "hook": {
      const words = sb.template.map((w) =>
        w.replaceAll("{slot}", String(slot)).replaceAll("{root}", root),
      );
      const cwd =
        spec.cwd === undefined ? root : spec.cwd.startsWith("/") ? spec.cwd : `${root}/${spec.cwd}`;
      return { ...spec, argv: [...words, "sh", "-c", CD, "herd-slot", cwd, ...spec.argv] };
    }
  }
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

/**
 * The sandbox of a host: its own `sandbox=` (a kind or a hook template)
 * else the config's kind, around `localbase`; an error when its slots
 * would share one prefix.
 */
export function slotSandbox(o: {
  readonly name: string;
  readonly slots: number;
  /** The hosts file's `sandbox=` words: one kind, or a hook template; null when not given. */
  readonly hook: readonly string[] | null;
  readonly kind: SandboxKind;
  readonly localbase: string;
}): { ok: true; value: SlotSandbox } | { ok: false; error: string } {
  const only = o.hook?.length === 1 ? o.hook[0]! : undefined;
  const kind: SandboxKind | "hook" =
    o.hook === null
      ? o.kind
      : only !== undefined && (SANDBOX_KINDS as readonly string[]).includes(only)
        ? (only as SandboxKind)
        : "hook";
  if (kind === "hook") {
    const template = o.hook ?? [];
    if (o.slots > 1 && !template.some((w) => w.includes("{slot}")))
      return {
        ok: false,
        error: `host ${o.name}: its sandbox hook has no {slot}, so its ${o.slots} slots would share one sandbox`,
      };
    return { ok: true, value: { kind: "hook", template } };
  }
  if (kind === "none" || o.localbase === "") {
    if (o.localbase !== "" && o.slots > 1)
      return {
        ok: false,
        error: `host ${o.name} has slots=${o.slots}, but localbase ${o.localbase} would be one prefix for all of them`,
      };
    return { ok: true, value: NO_SANDBOX };
  }
  return { ok: true, value: { kind, target: o.localbase } };
}
