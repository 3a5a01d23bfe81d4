import type { Command } from "commander";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { workPaths } from "../bulk/layout.js";
import { DEFAULT_TARGETS } from "../core/targets.js";
import { Store } from "../store/store.js";
import { UserError } from "./errors.js";

/** Where a stage comes in a build (ties of modification time: a stage starts as the last one ends). */
function stageRank(file: string): number {
  const i = (DEFAULT_TARGETS as readonly string[]).indexOf(file.slice(0, -".log".length));
  return i < 0 ? DEFAULT_TARGETS.length : i;
}

/** The stage logs of a package, oldest first (the order its stages ran in). */
function stageLogs(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => a.t - b.t || stageRank(a.f) - stageRank(b.f) || (a.f < b.f ? -1 : 1))
    .map((x) => x.f);
}

/** Whether the latest build of the work directory is building the package now. */
function building(db: string, pkgname: string): boolean {
  const store = new Store(db);
  try {
    const b = store.lastBuild();
    if (b?.status !== "running") return false;
    return store.packages(b.id).some((r) => r.pkgname === pkgname && r.state === "building");
  } finally {
    store.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `herd logs [-f] PKGNAME`: a package's stage logs, the running stage's as it grows. */
export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description(
      "print a package's stage logs; -f follows the running stage until the package ends",
    )
    .argument("<pkgname>", "e.g. libstr-2.1")
    .option("-w, --work <dir>", "work directory", "work")
    .option("-f, --follow", "keep printing what the running stage adds, until the package ends")
    .action(async (pkgname: string, opts: { work: string; follow?: boolean }) => {
      const paths = workPaths(opts.work);
      const dir = join(paths.logs, pkgname);
      if (!/^[A-Za-z0-9_.+-]+$/.test(pkgname) || !existsSync(dir))
        throw new UserError(
          "logs",
          `no logs of ${pkgname} in ${opts.work}`,
          "give a PKGNAME as the report shows it (e.g. libstr-2.1) and the build's --work directory",
        );
      const shown = new Map<string, number>();
      // As tail -f does with several files: a header whenever the output moves to another file.
      let current: string | undefined;
      const print = (): void => {
        for (const f of stageLogs(dir)) {
          const data = readFileSync(join(dir, f));
          const from = shown.get(f);
          // A stage's complete log replaces its streamed one: print only what is new.
          const start = from !== undefined && from <= data.length ? from : 0;
          if ((from === undefined || data.length > start) && current !== f) {
            process.stdout.write(`==> ${f} <==\n`);
            current = f;
          }
          if (data.length > start) process.stdout.write(data.subarray(start));
          shown.set(f, data.length);
        }
      };
      print();
      if (opts.follow !== true) return;
      while (existsSync(paths.db) && building(paths.db, pkgname)) {
        await sleep(1000);
        print();
      }
      print();
    });
}
