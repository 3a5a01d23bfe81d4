/**
 * pkgsrc's distinfo files: what each distfile must be before it is trusted.
 *
 *     $NetBSD$
 *
 *     BLAKE2s (foo-1.0.tar.gz) = 5e0f…
 *     SHA512 (foo-1.0.tar.gz) = 9a1c…
 *     Size (foo-1.0.tar.gz) = 123456 bytes
 *     SHA1 (patch-aa) = 0b2e…
 *
 * Names are as `_DISTFILES` spells them (with DIST_SUBDIR/ in front when the
 * package sets one). Patches (`patch-*`) are pkgsrc's own files, checked by
 * `checksum` on the host; here only distfiles matter. Pure: the digests of a
 * file are computed by `Digests`, fed the bytes as they come.
 */
import { createHash, type Hash } from "node:crypto";
import { Cksum } from "../protocol/cksum.js";
import { err, ok, type Result } from "../protocol/result.js";

export interface DistinfoEntry {
  /** The name as distinfo writes it (DIST_SUBDIR/file or file). */
  readonly name: string;
  /** Algorithm (as distinfo spells it) → expected digest, lower-case hex (CKSUM: decimal). */
  readonly digests: ReadonlyMap<string, string>;
  readonly size?: number;
}

/** distinfo algorithms and the hash that computes each ("CKSUM": POSIX cksum, the fixture's). */
const HASHES: Readonly<Record<string, string>> = {
  SHA1: "sha1",
  RMD160: "ripemd160",
  SHA256: "sha256",
  SHA512: "sha512",
  BLAKE2s: "blake2s256",
  CKSUM: "",
};

const LINE = /^(\S+) \((.+)\) = (\S+)(?: bytes)?$/;

/** Parses a distinfo file's text; `where` names it in errors (file:line: what). */
export function parseDistinfo(
  text: string,
  where: string,
): Result<Map<string, DistinfoEntry>, string> {
  const out = new Map<string, { name: string; digests: Map<string, string>; size?: number }>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trimEnd();
    if (line === "" || line.startsWith("$") || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (m === null)
      return err(
        `${where}:${i + 1}: not a distinfo line (ALGORITHM (FILE) = VALUE): ${line.slice(0, 120)}`,
      );
    const [, alg, name, value] = m as unknown as [string, string, string, string];
    let e = out.get(name);
    if (e === undefined) out.set(name, (e = { name, digests: new Map() }));
    if (alg === "Size") {
      if (!/^\d+$/.test(value))
        return err(`${where}:${i + 1}: Size of ${name} is not a number: ${value}`);
      e.size = Number(value);
    } else {
      if (!(alg in HASHES))
        return err(`${where}:${i + 1}: unknown checksum algorithm ${alg} for ${name}`);
      e.digests.set(alg, value.toLowerCase());
    }
  }
  return ok(out);
}

/** Every digest a distinfo entry asks for, computed over bytes fed in order. */
export class Digests {
  readonly #hashes = new Map<string, Hash>();
  readonly #cksum: Cksum | null;
  #size = 0;

  constructor(algorithms: Iterable<string>) {
    let ck: Cksum | null = null;
    for (const a of algorithms) {
      const h = HASHES[a];
      if (h === undefined) continue;
      if (h === "") ck = new Cksum();
      else this.#hashes.set(a, createHash(h));
    }
    this.#cksum = ck;
  }

  update(data: Uint8Array): void {
    this.#size += data.length;
    for (const h of this.#hashes.values()) h.update(data);
    this.#cksum?.update(data);
  }

  /** Algorithm → digest as distinfo writes it, and the size. */
  digest(): { digests: Map<string, string>; size: number } {
    const d = new Map<string, string>();
    for (const [a, h] of this.#hashes) d.set(a, h.digest("hex"));
    if (this.#cksum !== null) d.set("CKSUM", String(this.#cksum.digest()));
    return { digests: d, size: this.#size };
  }
}

/** What is wrong with a file whose digests are `got`, or null when it is the file distinfo names. */
export function mismatch(
  want: DistinfoEntry,
  got: { readonly digests: ReadonlyMap<string, string>; readonly size: number },
): string | null {
  if (want.size !== undefined && want.size !== got.size)
    return `size ${got.size} bytes, distinfo says ${want.size}`;
  for (const [alg, value] of want.digests) {
    const actual = got.digests.get(alg);
    if (actual !== value) return `${alg} mismatch: distinfo ${value}, file ${actual ?? "?"}`;
  }
  return null;
}

/** The URL of a distfile on a site, as pkgsrc forms it (a site ending in "-" is the whole URL). */
export function siteUrl(site: string, file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  return site.endsWith("-") ? site.slice(0, -1) : site + base;
}
