/** Running the herd CLI from tests, and the trees its scans run on. */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeTree } from "./tree-support.js";

export const MAIN = join(import.meta.dirname, "../../src/cli/main.js");
export const FIXTURE = join(import.meta.dirname, "../../../tests/fixtures/tree");

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running herd process whose output is collected. */
export interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<Run>;
  stderr(): string;
  stdout(): string;
}

/** Starts the herd CLI (killed after timeoutMs, 150 s by default, at the latest). */
export function startHerd(args: readonly string[], timeoutMs = 150_000): Running {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, stderr: () => stderr, stdout: () => stdout };
}

/** Runs the herd CLI to its end; `during` runs meanwhile. */
export async function herd(args: readonly string[], during?: () => Promise<void>): Promise<Run> {
  const r = startHerd(args);
  const [run] = await Promise.all([r.done, during?.()]);
  return run;
}

/** The fixture tree plus slow packages and one whose Makefile is broken. */
export function scanTree(dir: string, slow: number): string {
  const tree = join(dir, "tree");
  cpSync(FIXTURE, tree, {
    recursive: true,
    filter: (src) => !src.slice(FIXTURE.length).split("/").includes("work"),
  });
  for (let i = 0; i < slow; i++) {
    writeTree(tree, {
      [`slow/p${i}/Makefile`]: [
        `DISTNAME=\tslow${i}-1.0`,
        "CATEGORIES=\tslow",
        "MAINTAINER=\tfixtures@herd.example",
        "COMMENT=\tA package whose scan takes a while",
        ".BEGIN:",
        "\t@sleep 0.2",
        '.include "../../mk/bsd.pkg.mk"',
        "",
      ].join("\n"),
    });
  }
  writeTree(tree, { "slow/broken/Makefile": '.include "../../mk/no-such-file.mk"\n' });
  // pkgsrc finds packages through the SUBDIR lists of the top and category Makefiles.
  const subdirs = [...Array.from({ length: slow }, (_, i) => `p${i}`), "broken"];
  writeTree(tree, {
    "slow/Makefile": `COMMENT=\tSlow scans\n\n${subdirs.map((d) => `SUBDIR+=\t${d}\n`).join("")}\n.include "../mk/bsd.pkg.subdir.mk"\n`,
  });
  const top = join(tree, "Makefile");
  writeFileSync(
    top,
    readFileSync(top, "utf8").replace(/^\.include/m, "SUBDIR+=\tslow\n\n.include"),
  );
  return tree;
}

/** The records of a scan output, as strings. */
export function records(text: string): string[] {
  return text.split(/^(?=PKGNAME=)/m).filter((r) => r !== "");
}

/** Waits until `check` holds (polling), or throws after `ms`. */
export async function eventually(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
