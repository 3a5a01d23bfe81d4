/**
 * `herd demo --real`: a real bulk build of the real 2013 pkgsrc tree on 3
 * local hosts, with its real bootstrap (bmake, pkg_install), of the packages
 * that build from the tree alone: the ones in pkgtools that need no distfile,
 * and a small local category (a chain of three packages, and one that needs
 * pkgtools/mtree, which fails to link on a modern glibc). The tree and the
 * bootstrap are prepared once per machine by scripts/pkgsrc2013.sh; the
 * tests use the same pieces (tests/lib/pkgsrc2013.ts).
 */
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join, relative } from "node:path";
import type { Config } from "./config.js";
import { UserError } from "./errors.js";

/** What the real build builds: the no-distfile packages of the tree and the local category. */
export const REAL_BUILD_PACKAGES: readonly string[] = [
  "pkgtools/pkg_chk",
  "pkgtools/osabi",
  "pkgtools/pkg_alternatives",
  "pkgtools/libnbcompat",
  "pkgtools/mtree",
  "local/herd-greeter",
  "local/herd-mtree-user",
];

/** The prepared cache: tree, bootstrap prefix and kit, pbulk tools. */
export interface Prepared2013 {
  readonly dir: string;
  readonly tree: string;
  readonly prefix: string;
  readonly kit: string;
}

/** Runs scripts/pkgsrc2013.sh (a no-op once prepared) and returns its cache directory. */
export function prepare2013(repo: string, data: string): Prepared2013 {
  if (!existsSync(join(data, "pkgsrc-2013-03-30.tar.zst")))
    throw new UserError(
      "data",
      `no pkgsrc 2013 tarball in ${data}`,
      "set HERD_PKGSRC2013 to the directory holding pkgsrc-2013-03-30.tar.zst and bootstrap.sh",
    );
  const r = spawnSync("sh", [join(repo, "scripts/pkgsrc2013.sh"), data], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !existsSync(join(dir, "ready")))
    throw new UserError(
      "bootstrap",
      "preparing the 2013 tree and its bootstrap failed",
      "see the lines above; it needs gcc, make, bash, zstd and flock",
    );
  return {
    dir,
    tree: join(dir, "pkgsrc"),
    prefix: join(dir, "prefix"),
    kit: join(dir, "kit.tar"),
  };
}

/** The config of a build with the bootstrap: its bmake and pkg_info, its prefix private to each local host. */
export function bootstrapOverrides(p: Prepared2013): Partial<Config> {
  const root = process.getuid?.() === 0;
  const bwrap = spawnSync("sh", ["-c", "command -v bwrap"]).status === 0;
  return {
    make: join(p.prefix, "bin/bmake"),
    localbase: p.prefix,
    bootstrapKit: p.kit,
    sandbox: root || !bwrap ? "unshare" : "bwrap",
    pkgInfo: join(p.prefix, "sbin/pkg_info"),
  };
}

function digestDir(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string): void => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    );
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else
        h.update(`${relative(dir, p)}\0`)
          .update(readFileSync(p))
          .update("\0");
    }
  };
  walk(dir);
  return h.digest("hex").slice(0, 12);
}

/**
 * The prepared tree plus a category of one's own (as operators add local
 * packages), kept in the cache while the category is unchanged: a hard-linked
 * copy (nothing writes into a master's tree) made beside and renamed into
 * place, with its own tree id.
 */
export function treeWithCategory(p: Prepared2013, category: string): string {
  const name = `${basename(category)}-${digestDir(category)}`;
  const dest = join(p.dir, "trees", name);
  const tree = join(dest, "pkgsrc");
  if (existsSync(join(tree, ".herd-tree-id"))) return tree;
  mkdirSync(join(p.dir, "trees"), { recursive: true });
  const tmp = mkdtempSync(join(p.dir, "trees", `.${name}-`));
  try {
    const cp = spawnSync("cp", ["-al", p.tree, join(tmp, "pkgsrc")], { stdio: "inherit" });
    if (cp.status !== 0) throw new UserError("tree", `cannot copy ${p.tree}`, "check free space");
    cpSync(category, join(tmp, "pkgsrc", basename(category)), { recursive: true });
    // Replaces the hard link: the pristine tree keeps its own id.
    rmSync(join(tmp, "pkgsrc", ".herd-tree-id"), { force: true });
    writeFileSync(join(tmp, "pkgsrc", ".herd-tree-id"), `${randomUUID()}\n`);
    try {
      renameSync(tmp, dest);
    } catch (e) {
      // Another run made it meanwhile.
      if (!existsSync(join(tree, ".herd-tree-id"))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return tree;
}

/** Everything `herd demo --real` needs: the tree, the package list file, the config. */
export function prepareRealDemo(
  repo: string,
  work: string,
): { tree: string; pkgs: string; overrides: Partial<Config> } {
  const data = process.env.HERD_PKGSRC2013 ?? join(repo, "../shared/data/pkgsrc-2013");
  const p = prepare2013(repo, data);
  const tree = treeWithCategory(p, join(repo, "tests/fixtures/pkgsrc2013/local"));
  mkdirSync(work, { recursive: true });
  const pkgs = join(work, "real-packages.txt");
  writeFileSync(pkgs, REAL_BUILD_PACKAGES.join("\n") + "\n");
  return { tree, pkgs, overrides: bootstrapOverrides(p) };
}
