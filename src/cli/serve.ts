import type { Command } from "commander";
import { resolve } from "node:path";
import { TOKEN_ENV, workDashboard } from "../dashboard/start.js";
import { UserError } from "./errors.js";

interface ServeOptions {
  readonly work: string;
  readonly token?: string;
  readonly poll: string;
}

/** `herd serve`: the dashboard of a work directory's latest build, live while a master runs it. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "serve the dashboard of a work directory's latest build (live while herd build runs)",
    )
    .argument(
      "[addr]",
      "where to listen: PORT, HOST:PORT or [V6]:PORT (default 127.0.0.1, any free port)",
    )
    .option("-w, --work <dir>", "the work directory", "work")
    .option(
      "--token <token>",
      `token for controls, required off loopback (default: $${TOKEN_ENV}, or generated off loopback)`,
    )
    .option("--poll <ms>", "how often to read new events from the store", "500")
    .action(async (addr: string | undefined, opts: ServeOptions) => {
      const pollMs = Number(opts.poll);
      if (!Number.isInteger(pollMs) || pollMs < 50)
        throw new UserError(
          "usage",
          "--poll needs a number of milliseconds (50 or more)",
          "e.g. --poll 500",
        );
      const work = resolve(opts.work);
      const server = await workDashboard({ addr, token: opts.token, work, pollMs });
      process.stdout.write(`dashboard of ${work}: ${server.url}\n(Ctrl-C stops it)\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          done();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await server.close("herd serve was stopped");
    });
}
