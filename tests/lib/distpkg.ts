/**
 * Packages with real distfiles for the distfile tests: a package of the
 * test's own category `distf` in a copy of the fixture tree, with a distinfo
 * as `make makesum` writes it (SHA512 and Size).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "./fixture.js";

/** A package of the test's own category `distf`, with a real distinfo (SHA512, Size). */
export function addPackage(
  tree: string,
  o: {
    name: string;
    file: string;
    /** The distfile's bytes (for distinfo). */
    body: string | Buffer;
    sites: string[];
    subdir?: string;
    depends?: string;
    /** More makefile text, before bsd.pkg.mk. */
    extra?: string;
    /** How the program is made from the distfile in WRKSRC (default: a copy of it). */
    buildCmd?: string;
  },
): void {
  const dir = join(tree, "distf", o.name);
  mkdirSync(dir, { recursive: true });
  const subdir = o.subdir ?? `${o.name}-1.0`;
  writeFileSync(
    join(dir, "Makefile"),
    `DISTNAME=\t${o.name}-1.0
CATEGORIES=\tdistf
COMMENT=\tA package whose distfile comes from a site
DISTFILES=\t${o.file}
DIST_SUBDIR=\t${subdir}
MASTER_SITES=\t${o.sites.join(" ")}
${o.depends === undefined ? "" : `DEPENDS+=\t${o.depends}\n`}${o.extra ?? ""}
do-build:
\tcd \${WRKSRC} && ${o.buildCmd ?? `cp ${o.file} ${o.name}`}

do-install:
\t\${INSTALL_PROGRAM_DIR} \${DESTDIR}\${PREFIX}/bin
\t\${INSTALL_SCRIPT} \${WRKSRC}/${o.name} \${DESTDIR}\${PREFIX}/bin/${o.name}

.include "../../mk/bsd.pkg.mk"
`,
  );
  writeFileSync(join(dir, "PLIST"), `@comment $NetBSD$\nbin/${o.name}\n`);
  writeFileSync(join(dir, "DESCR"), `${o.name}: a distfile test package.\n`);
  const sha = createHash("sha512").update(o.body).digest("hex");
  writeFileSync(
    join(dir, "distinfo"),
    `$NetBSD$\n\nSHA512 (${subdir}/${o.file}) = ${sha}\nSize (${subdir}/${o.file}) = ${Buffer.from(o.body).length} bytes\n`,
  );
}

export function outcomes(events: readonly Event[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type === "package-end" && e.result !== "lost")
      out.set(
        e.pkgname as string,
        `${e.result as string}${e.stage === undefined ? "" : `@${e.stage as string}`}`,
      );
    if (e.type === "indirect-failed") out.set(e.pkgname as string, "indirect-failed");
  }
  return out;
}
