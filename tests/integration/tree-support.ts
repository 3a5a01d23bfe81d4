/** A small pkgsrc-like tree, built on the fly, for sync tests. */
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  lstatSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** Writes files given as path → content (a content of null makes a directory). */
export function writeTree(root: string, files: Record<string, string | Buffer | null>): void {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(root, path);
    if (content === null) {
      mkdirSync(abs, { recursive: true });
      continue;
    }
    mkdirSync(join(abs, ".."), { recursive: true });
    writeFileSync(abs, content);
  }
}

/** Every entry under root as path → "dir" | "link:TARGET" | file content (base64). */
export function snapshotTree(
  root: string,
  skip: (rel: string) => boolean = () => false,
): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (skip(r)) continue;
      const abs = join(root, r);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.set(r, `link:${readlinkSync(abs)}`);
      else if (st.isDirectory()) {
        out.set(r, "dir");
        walk(r);
      } else
        out.set(r, `${(st.mode & 0o111) !== 0 ? "x" : "-"}${readFileSync(abs).toString("base64")}`);
    }
  };
  walk("");
  return out;
}

export function sampleTree(root: string): void {
  const long = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(70)}`;
  writeTree(root, {
    "mk/bsd.pkg.mk": "all:\n\t@echo hi\n",
    "devel/foo/Makefile": "PKGNAME=foo-1.0\n",
    "devel/foo/distinfo": "SHA1 (foo) = 0\n",
    "devel/foo/work/junk.o": Buffer.from([0, 1, 2]),
    "devel/foo/files/empty": "",
    "devel/foo/files/bin": Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256)),
    "devel/emptydir": null,
    [`${long}/file-with-a-long-path`]: "deep\n",
    "distfiles/big.tar.gz": "not synced",
    "packages/All/x.tgz": "not synced",
    ".git/HEAD": "ref\n",
    "$(touch pwned)/Makefile": "evil name\n",
  });
  symlinkSync("../devel/foo/Makefile", join(root, "mk/link"));
  const script = join(root, "mk/script.sh");
  writeFileSync(script, "#!/bin/sh\n");
  chmodSync(script, 0o755);
}

/** Paths a sync leaves out. */
export function syncSkips(rel: string): boolean {
  return (
    rel === ".herd-tree-id" ||
    rel.split("/").some((p) => p === "work" || p === ".git") ||
    rel === "distfiles" ||
    rel.startsWith("distfiles/") ||
    rel === "packages" ||
    rel.startsWith("packages/")
  );
}
