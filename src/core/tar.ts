/**
 * A small reader of (gzipped) tar archives: enough to read a binary
 * package's metadata files (+CONTENTS, +COMMENT, ...) and to vet an archive
 * before anything unpacks it: no absolute paths, no `..`, no links leading
 * out of the directory it is unpacked into.
 */
import { gunzipSync } from "node:zlib";

export interface TarEntry {
  readonly name: string;
  readonly type: "file" | "dir" | "symlink" | "hardlink" | "other";
  readonly size: number;
  readonly linkname: string;
  readonly data: Buffer;
}

export type TarResult = { ok: true; entries: TarEntry[] } | { ok: false; message: string };

function field(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString("latin1", off, end < 0 || end > off + len ? off + len : end);
}

function octal(b: Buffer, off: number, len: number): number {
  const s = field(b, off, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

/** Lists a tar (gzip-compressed or not), with the contents of each member. */
export function readTar(archive: Buffer): TarResult {
  let buf: Buffer;
  try {
    buf = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  } catch (e) {
    return { ok: false, message: `not a valid gzip stream: ${(e as Error).message}` };
  }
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) return { ok: true, entries };
    const size = octal(h, 124, 12);
    if (!Number.isFinite(size) || size < 0)
      return { ok: false, message: `bad size field at offset ${off}` };
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== octal(h, 148, 8))
      return { ok: false, message: `bad header checksum at offset ${off}` };
    const flag = String.fromCharCode(h[156]!);
    const data = buf.subarray(off + 512, off + 512 + size);
    if (data.length < size) return { ok: false, message: "the archive is truncated" };
    off += 512 + Math.ceil(size / 512) * 512;
    if (flag === "L") {
      longName = field(data, 0, size);
      continue;
    }
    if (flag === "K") {
      longLink = field(data, 0, size);
      continue;
    }
    const prefix = h.toString("latin1", 257, 263).startsWith("ustar") ? field(h, 345, 155) : "";
    const name = longName ?? (prefix === "" ? field(h, 0, 100) : `${prefix}/${field(h, 0, 100)}`);
    const linkname = longLink ?? field(h, 157, 100);
    longName = longLink = undefined;
    const type =
      flag === "0" || flag === "\0" || flag === "7"
        ? "file"
        : flag === "5"
          ? "dir"
          : flag === "2"
            ? "symlink"
            : flag === "1"
              ? "hardlink"
              : "other";
    entries.push({ name, type, size, linkname, data });
  }
  return { ok: false, message: "the archive ends without its end-of-archive blocks (truncated?)" };
}

/** Why an archive would write outside its directory, or undefined when it would not. */
export function unsafeMember(entries: readonly TarEntry[]): string | undefined {
  for (const e of entries) {
    const bad = unsafePath(e.name);
    if (bad !== undefined) return `member "${e.name}" ${bad}`;
    if (e.type === "hardlink" && unsafePath(e.linkname) !== undefined)
      return `hard link "${e.name}" points outside the archive (${e.linkname})`;
    if (e.type === "symlink") {
      const target = e.linkname.startsWith("/")
        ? e.linkname
        : [...e.name.split("/").slice(0, -1), e.linkname].join("/");
      if (e.linkname.startsWith("/") || escapes(target))
        return `symbolic link "${e.name}" points outside the archive (${e.linkname})`;
    }
    if (e.type === "other") return `member "${e.name}" is a device, FIFO or other special file`;
  }
  return undefined;
}

function unsafePath(p: string): string | undefined {
  if (p.startsWith("/")) return "has an absolute path";
  if (escapes(p)) return "climbs out with ..";
  return undefined;
}

function escapes(p: string): boolean {
  let depth = 0;
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    depth += part === ".." ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}
