/**
 * Helpers for end-to-end tests on the fixture tree: a private copy of the
 * tree (stamped), a config that puts the fixture's pkg tools on the hosts'
 * PATH, and a way to run the CLI and read its NDJSON events.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { machine, release, tmpdir, type } from "node:os";
import { join } from "node:path";
import { CLI, ROOT } from "./paths.js";
import { scratchDir } from "./scratch.js";

export const FIXTURE_TREE = join(ROOT, "tests/fixtures/tree");
export const FIXTURE_TOOLS = join(ROOT, "tests/fixtures/tools");

export interface Sandbox {
  readonly dir: string;
  readonly tree: string;
  readonly config: string;
}

/**
 * What Debian's bmake would otherwise ask uname for in every make run (its
 * sys.mk, host-target.mk: "may be overridden"), 6 of the about 11 processes
 * a make run of the fixture tree starts. The test hosts are this machine, so
 * the answers are this machine's; giving them saves a sixth of a build's CPU.
 */
const HOST_PLATFORM: Record<string, string> = {
  _HOST_OSNAME: type(),
  _HOST_OSREL: release(),
  _HOST_MACHINE: machine(),
  _HOST_ARCH: machine(),
};

/** A temp dir with a stamped copy of the fixture tree and a config file. */
export function sandbox(name: string, config: Record<string, unknown> = {}): Sandbox {
  const dir = scratchDir(`herd-${name}-`);
  const tree = join(dir, "tree");
  cpSync(FIXTURE_TREE, tree, {
    recursive: true,
    filter: (src) => !/\/work$|\.herd-tree-id$/.test(src),
  });
  const cfg = join(dir, "herd.json");
  const env = { ...HOST_PLATFORM, ...(config.env as Record<string, string> | undefined) };
  writeFileSync(cfg, JSON.stringify({ path: [FIXTURE_TOOLS], ...config, env }));
  stamp(tree);
  return { dir, tree, config: cfg };
}

/** Runs `herd tree stamp`. */
export function stamp(tree: string): void {
  const r = spawnSync("node", [CLI, "tree", "stamp", "--tree", tree], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tree stamp failed: ${r.stderr}`);
}

export interface Event {
  readonly type: string;
  readonly [k: string]: unknown;
}

export interface Run {
  readonly code: number | null;
  readonly events: Event[];
  readonly stderr: string;
}

/** Runs the CLI with --json to the end (bounded by timeoutMs) and parses its events. */
export function herdJson(args: readonly string[], timeoutMs = 240_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", [CLI, ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const events = out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Event);
      resolve({ code, events, stderr: err });
    });
  });
}

/** The expected outcome of each fixture package (tests/fixtures/expected-outcomes.txt). */
export function expectedOutcomes(): Map<string, string> {
  const text = readFileSync(join(ROOT, "tests/fixtures/expected-outcomes.txt"), "utf8");
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\S+) (\S+)$/.exec(line.trim());
    if (m !== null && !line.startsWith("#")) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** pkg_summary.gz records without the fields that differ between two builds of the same inputs. */
export function stableSummary(work: string): string[] {
  const r = spawnSync("sh", ["-c", `gzip -dc "${join(work, "packages/All/pkg_summary.gz")}"`], {
    encoding: "utf8",
  });
  return r.stdout
    .split("\n\n")
    .filter((rec) => rec.trim() !== "")
    .map((rec) =>
      rec
        .split("\n")
        .filter((l) => !/^(BUILD_DATE|FILE_SIZE|SIZE_PKG)=/.test(l))
        .join("\n"),
    )
    .sort();
}

/** Runs `herd build` of a sandbox's tree (or of the PKGPATHs listed in the file pkgs) on N local hosts into `work`. */
/** `herd build`'s arguments after "build": N local hosts, or a hosts file; a --pkgs list if given. */
export function buildArgs(
  box: Sandbox,
  work: string,
  hosts: number | string,
  pkgs?: string,
): string[] {
  return [
    "--tree",
    box.tree,
    ...(typeof hosts === "number" ? ["--local", String(hosts)] : ["--hosts", hosts]),
    "--work",
    work,
    ...(pkgs === undefined ? [] : ["--pkgs", pkgs]),
    "-c",
    box.config,
  ];
}

/** Runs `herd build` to the end (see buildArgs) and parses its events. */
export function build(
  box: Sandbox,
  work: string,
  hosts: number | string,
  pkgs?: string,
): Promise<Run> {
  return herdJson(["build", ...buildArgs(box, work, hosts, pkgs)]);
}

/** The binary package files (*.tgz) in a directory, sorted. */
export function tgzFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".tgz"))
    .sort();
}

/** The package files a build of the fixture tree should produce. */
export function expectedFiles(): string[] {
  return [...expectedOutcomes()]
    .filter(([, o]) => o === "built")
    .map(([p]) => `${p}.tgz`)
    .sort();
}

/** The packages an event stream reports built, sorted. */
export function builtPackages(events: readonly Event[]): string[] {
  return events
    .filter((e) => e.type === "package-end" && e.result === "built")
    .map((e) => e.pkgname as string)
    .sort();
}

/** What other builds of the fixture tree are compared with (see referenceBuild). */
export interface Reference {
  /** stableSummary() of its repository. */
  readonly summary: string[];
  /** The counts of its report/report.json. */
  readonly counts: Record<string, number>;
}

/** The stable pkg_summary of the shared reference build (see referenceBuild). */
export async function referenceSummary(): Promise<string[]> {
  return (await referenceBuild()).summary;
}

/**
 * A plain build of the fixture tree on 3 local hosts: what other setups (one
 * host, slots, ssh, a master killed and resumed) must reproduce. Built once
 * per compiled herd and fixture tree and shared by the test files that
 * compare with it (node:test runs files in parallel processes; a lock
 * directory makes the others wait for the first), so the suite does not
 * build the same reference in every file.
 */
export async function referenceBuild(): Promise<Reference> {
  const key = createHash("sha256");
  for (const top of [join(ROOT, "dist/src"), FIXTURE_TREE, FIXTURE_TOOLS])
    for (const f of (readdirSync(top, { recursive: true }) as string[]).sort()) {
      const st = statSync(join(top, f));
      if (st.isFile()) key.update(`${top}/${f} ${st.size} ${st.mtimeMs}\n`);
    }
  const dir = join(tmpdir(), `herd-reference-${key.digest("hex").slice(0, 16)}`);
  const done = join(dir, "reference.json");
  const lock = `${dir}.lock`;
  for (let waited = 0; ; waited += 1) {
    if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8")) as Reference;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another file builds it; a lock older than 10 minutes is a dead builder's.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held !== undefined && Date.now() - held.mtimeMs > 600_000)
        rmSync(lock, { recursive: true, force: true });
      if (waited > 600) throw new Error(`no reference build in ${dir} after 5 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    const box = sandbox("reference");
    const work = join(box.dir, "work");
    const r = await build(box, work, 3);
    if (r.code !== 0) throw new Error(`the reference build failed: ${r.stderr}`);
    const reference: Reference = {
      summary: stableSummary(work),
      counts: (
        JSON.parse(readFileSync(join(work, "report/report.json"), "utf8")) as {
          counts: Record<string, number>;
        }
      ).counts,
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${done}.tmp`, JSON.stringify(reference));
    renameSync(`${done}.tmp`, done);
    return reference;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** What became of each package in a build's events: built, failed or indirect-failed (lost copies aside). */
export function buildOutcomes(events: readonly Event[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type === "package-end" && e.result !== "lost")
      out.set(e.pkgname as string, e.result as string);
    if (e.type === "indirect-failed") out.set(e.pkgname as string, "indirect-failed");
  }
  return out;
}

/** The built/failed/indirect outcomes expected of the fixture tree. */
export function expectedBuildOutcomes(): Map<string, string> {
  return new Map(
    [...expectedOutcomes()].filter(([, o]) => ["built", "failed", "indirect-failed"].includes(o)),
  );
}
