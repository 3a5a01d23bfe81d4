/**
 * The packages of a synthetic build (bigstore.ts): those of a real presolve,
 * or a made-up tree of any size for tests.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DATA_2026 } from "../../tests/lib/paths.js";
import { seededRandom } from "../../src/core/sim/jitter.js";

/** The real full-tree presolve (29,022 packages). */
export const PRESOLVE_2026 = join(DATA_2026, "presolve.zst");

/** What a presolve record says of a package, as far as a build's outcome goes. */
export interface BigPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly maintainer: string;
  /** PKGNAMEs it needs (pbulk-resolve's DEPENDS). */
  readonly depends: readonly string[];
  readonly skipReason: string;
  readonly failReason: string;
  /** A dependency matched nothing (pbulk-resolve left DEPENDS out). */
  readonly unresolved: boolean;
}

/** Reads the packages of a presolve file (plain or zstd-compressed; needs zstd and grep). */
export function readPresolvePackages(file = PRESOLVE_2026): BigPackage[] {
  const text = execFileSync(
    "sh",
    [
      "-c",
      'zstd -dcqf -- "$1" | grep -E "^(PKGNAME|PKG_LOCATION|MAINTAINER|PKG_SKIP_REASON|PKG_FAIL_REASON|DEPENDS)="',
      "sh",
      file,
    ],
    { encoding: "latin1", maxBuffer: 1 << 30 },
  );
  const out: BigPackage[] = [];
  let cur: { -readonly [K in keyof BigPackage]: BigPackage[K] } | null = null;
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "PKGNAME") {
      if (cur !== null) out.push(cur);
      cur = {
        pkgname: value,
        pkgpath: "",
        maintainer: "",
        depends: [],
        skipReason: "",
        failReason: "",
        unresolved: true,
      };
    } else if (cur !== null) {
      if (key === "PKG_LOCATION") cur.pkgpath = value;
      else if (key === "MAINTAINER") cur.maintainer = value;
      else if (key === "PKG_SKIP_REASON") cur.skipReason = value;
      else if (key === "PKG_FAIL_REASON") cur.failReason = value;
      else if (key === "DEPENDS") {
        cur.depends = value.split(" ").filter((d) => d !== "");
        cur.unresolved = false;
      }
    }
  }
  if (cur !== null) out.push(cur);
  // pbulk-resolve leaves DEPENDS out only when a dependency matched nothing, and then says so.
  return out.map((p) => ({ ...p, unresolved: p.unresolved && p.failReason !== "" }));
}

const CATEGORIES = ["devel", "lang", "textproc", "net", "graphics", "x11", "www", "databases"];

/**
 * A made-up tree of `n` packages: a few core packages many depend on, the
 * rest depending on a handful of earlier ones; some skipped, some with a
 * PKG_FAIL_REASON, one with a dependency that resolves to nothing.
 */
export function syntheticPackages(n: number, seed = 1): BigPackage[] {
  const rand = prng(seed);
  const core = Math.max(1, Math.floor(n / 50));
  const names: string[] = [];
  const out: BigPackage[] = [];
  for (let i = 0; i < n; i++) {
    const name = `pkg${i}-1.${i % 7}`;
    names.push(name);
    const deps = new Set<string>();
    const k = i === 0 ? 0 : Math.floor(rand() * 6);
    for (let j = 0; j < k; j++) {
      const d = rand() < 0.5 ? Math.floor(rand() * Math.min(i, core)) : Math.floor(rand() * i);
      deps.add(names[d]!);
    }
    // The core packages are neither skipped nor broken: pkgsrc keeps those building.
    const r = i < core ? 1 : rand();
    out.push({
      pkgname: name,
      pkgpath: `${CATEGORIES[i % CATEGORIES.length]!}/pkg${i}`,
      maintainer: rand() < 0.5 ? "pkgsrc-users@NetBSD.org" : `m${i % 40}@example.org`,
      depends: [...deps],
      skipReason: r < 0.04 ? "not for this platform" : "",
      failReason: r >= 0.04 && r < 0.047 ? `${name} is marked broken` : "",
      unresolved: i === n - 1,
    });
  }
  return out;
}

/** mulberry32, seeded: the simulator's own generator (src/core/sim/jitter.ts). */
export const prng = seededRandom;
