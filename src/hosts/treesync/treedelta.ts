/**
 * What a tree sync sends when the host already has a copy: the host lists
 * its copy with POSIX find and cksum, the master compares that listing with
 * its own tree and sends only what is new or changed, plus the paths to
 * delete. Pure: parsing, path checks and the comparison do no I/O.
 */
import { err, ok, type Result } from "../../protocol/result.js";

/** One entry of a tree listing; files compare by size, cksum CRC and the owner's x bit. */
export type TreeEntry =
  | { readonly kind: "dir" }
  | { readonly kind: "file"; readonly size: number; readonly crc: number; readonly exec: boolean }
  | { readonly kind: "link" }
  | { readonly kind: "other" };

/** Relative "/"-separated path → entry; the root itself is not listed. */
export type TreeManifest = ReadonlyMap<string, TreeEntry>;

/**
 * The host's listing, run as `sh -c HOST_MANIFEST herd-manifest DEST` in the
 * agent root. It first removes the copy's tree id (from here on the copy is
 * being changed, so an interrupted sync leaves no id and is redone), exits 3
 * when there is no copy, removes names holding a newline (a line-per-path
 * listing cannot carry them; the master sends them again), and prints one
 * line per entry: `CRC SIZE ./path` (cksum) for files, `x ./path` for files
 * with the owner's x bit, `d`, `l` and `o` (anything else) lines for the
 * rest. The top-level distfiles and packages are left alone. Path names are
 * only ever arguments of find's -exec: nothing is evaluated.
 */
export const HOST_MANIFEST = [
  'd=$1; rm -f "$d/.herd-tree-id" "$d/.herd-tree-id.tmp"',
  '[ -d "$d" ] || exit 3',
  'cd "$d" || exit 3',
  "nl=$(printf '\\nx'); nl=${nl%x}",
  'find . -name "*$nl*" -prune -exec rm -rf {} + || exit 4',
  "find . \\( -path ./distfiles -o -path ./packages \\) -prune" +
    " -o -type d -exec printf 'd %s\\n' {} +" +
    " -o -type l -exec printf 'l %s\\n' {} +" +
    " -o ! -type f -exec printf 'o %s\\n' {} +" +
    // Last, so a file without the x bit falls through to nothing (busybox
    // find never runs an `-exec {} +` inside parentheses).
    " -o -exec cksum {} + -perm -100 -exec printf 'x %s\\n' {} +",
].join("; ");

/**
 * Whether `path` is a plain relative path inside a tree: no leading "/", no
 * empty, "." or ".." component, no newline or NUL. Everything the master
 * asks a host to delete passes this check (and the host checks again).
 */
export function isInsidePath(path: string): boolean {
  if (path === "" || path.includes("\n") || path.includes("\0")) return false;
  return path.split("/").every((c) => c !== "" && c !== "." && c !== "..");
}

/** Reads HOST_MANIFEST's output; any line it cannot account for fails the whole listing. */
export function parseHostManifest(text: string): Result<TreeManifest, string> {
  const out = new Map<string, TreeEntry>();
  const exec = new Set<string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [i, line] of lines.entries()) {
    const m = /^(?:([dlxo])|([0-9]+) ([0-9]+)) (.*)$/s.exec(line);
    const raw = m?.[4];
    if (m === null || raw === undefined)
      return err(`listing line ${i + 1}: ${JSON.stringify(line)}`);
    if (raw === ".") continue;
    // A name that is not valid UTF-8 cannot be named back to the host exactly.
    if (!raw.startsWith("./") || raw.includes("\uFFFD"))
      return err(`listing line ${i + 1}: unusable path ${JSON.stringify(raw)}`);
    const path = raw.slice(2);
    if (!isInsidePath(path))
      return err(`listing line ${i + 1}: unusable path ${JSON.stringify(raw)}`);
    switch (m[1]) {
      case "d":
        out.set(path, { kind: "dir" });
        break;
      case "l":
        out.set(path, { kind: "link" });
        break;
      case "o":
        out.set(path, { kind: "other" });
        break;
      case "x":
        exec.add(path);
        break;
      default:
        out.set(path, { kind: "file", crc: Number(m[2]), size: Number(m[3]), exec: false });
    }
  }
  for (const path of exec) {
    const e = out.get(path);
    if (e?.kind === "file") out.set(path, { ...e, exec: true });
  }
  return ok(out);
}

/** A listing in HOST_MANIFEST's own format (parseHostManifest reads it back). */
export function formatManifest(m: TreeManifest): string {
  const lines: string[] = [];
  for (const [path, e] of m) {
    if (e.kind === "file") {
      lines.push(`${e.crc} ${e.size} ./${path}`);
      if (e.exec) lines.push(`x ./${path}`);
    } else lines.push(`${e.kind === "dir" ? "d" : e.kind === "link" ? "l" : "o"} ./${path}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** What to change on the host so its copy equals the master's tree. */
export interface DeltaPlan {
  /** Removed first (topmost only: a removed directory takes its contents). */
  readonly remove: readonly string[];
  /** Then unpacked from a tar stream: directories, files and symlinks, sorted. */
  readonly send: readonly string[];
}

function sameEntry(a: TreeEntry, b: TreeEntry): boolean {
  if (a.kind === "file" && b.kind === "file")
    return a.size === b.size && a.crc === b.crc && a.exec === b.exec;
  // Symlinks are always removed and sent again: POSIX has no portable way to
  // list a link's target, and a pkgsrc tree holds very few.
  return a.kind === b.kind && a.kind === "dir";
}

function sortPaths(paths: Iterable<string>): string[] {
  return [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Compares the host's listing with the master's. A changed file is removed
 * and sent again, so no tar ever writes through an old entry; the host's
 * top-level distfiles and packages are outside both listings.
 */
export function planDelta(master: TreeManifest, host: TreeManifest): DeltaPlan {
  const removed = new Set<string>();
  const remove: string[] = [];
  const underRemoved = (path: string): boolean => {
    for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1))
      if (removed.has(path.slice(0, i))) return true;
    return false;
  };
  // Sorted, a directory comes before everything in it.
  for (const path of sortPaths(host.keys())) {
    if (underRemoved(path)) continue;
    const mine = master.get(path);
    const theirs = host.get(path)!;
    if (mine === undefined || !sameEntry(mine, theirs)) {
      removed.add(path);
      remove.push(path);
    }
  }
  const send: string[] = [];
  for (const path of sortPaths(master.keys())) {
    if (host.has(path) && !removed.has(path) && !underRemoved(path)) continue;
    send.push(path);
  }
  return { remove, send };
}
