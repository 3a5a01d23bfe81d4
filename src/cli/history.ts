import type { Command } from "commander";
import { existsSync } from "node:fs";
import { workPaths } from "../bulk/layout.js";
import { Store } from "../store/store.js";
import { UserError } from "./errors.js";

/** `herd history PKGPATH`: outcomes and durations of one package across builds. */
export function registerHistory(program: Command): void {
  program
    .command("history")
    .description("list a package's outcomes and build times across the builds of a work directory")
    .argument("<pkgpath>", "category/dir, e.g. devel/libstr")
    .option("-w, --work <dir>", "work directory", "work")
    .option("--json", "one JSON object per build")
    .action((pkgpath: string, opts: { work: string; json?: boolean }) => {
      const db = workPaths(opts.work).db;
      if (!existsSync(db))
        throw new UserError(
          "history",
          `no herd database in ${opts.work}`,
          "pass the --work directory of your builds",
        );
      const store = new Store(db);
      try {
        const rows = store.pathHistory(pkgpath);
        if (rows.length === 0)
          throw new UserError(
            "history",
            `${pkgpath} was never part of a build in ${opts.work}`,
            "PKGPATH is category/dir, as in PKG_LOCATION",
          );
        const stageMs = (build: number, pkgname: string): number =>
          store.stages(build, pkgname).reduce((a, s) => a + s.wallMs, 0);
        for (const r of rows) {
          const secs = stageMs(r.buildId, r.pkgname) / 1000;
          const when = new Date(r.buildStartedMs).toISOString().slice(0, 16).replace("T", " ");
          if (opts.json === true) {
            process.stdout.write(
              JSON.stringify({
                build: r.buildId,
                started: when,
                pkgname: r.pkgname,
                state: r.state,
                stage: r.failedStage,
                reason: r.reason,
                host: r.host,
                seconds: secs,
              }) + "\n",
            );
          } else {
            const why =
              r.state === "built" || r.state === "up-to-date"
                ? ""
                : ` ${r.failedStage ?? ""} ${r.reason}`.trimEnd();
            process.stdout.write(
              `build ${String(r.buildId).padStart(4)}  ${when}  ${r.pkgname.padEnd(30)} ${r.state.padEnd(16)} ${secs.toFixed(1).padStart(8)} s  ${r.host ?? ""}${why}\n`,
            );
          }
        }
      } finally {
        store.close();
      }
    });
}
