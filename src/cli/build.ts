import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { BuildControl } from "../bulk/control.js";
import { runBuild, type BuildSummary } from "../bulk/build.js";
import { HOST } from "../bulk/layout.js";
import { scanStep } from "../bulk/scan-step.js";
import { EventBus } from "../events/types.js";
import { sandboxProblem } from "../hosts/sandbox.js";
import { allOf, prefixPrepare } from "../bulk/prefix.js";
import { prepareRealDemo } from "./demo-real.js";
import { HostPool } from "../hosts/pool.js";
import { serveHosts } from "../hosts/serve.js";
import { treeSyncPrepare } from "../hosts/treesync/treesync.js";
import { currentTreeId } from "../hosts/treesync/treestamp.js";
import { hostEntries, readPkgList } from "./scan.js";
import { readBuildDepends } from "../report/critical.js";
import { reportModel } from "../report/model.js";
import { writeReport } from "../report/render.js";
import { loadConfig, type Config } from "./config.js";
import { UserError } from "./errors.js";
import { createDisplay, type OutputMode } from "./progress.js";
import type { DashboardServer } from "../dashboard/server.js";
import { buildDashboard, TOKEN_ENV } from "../dashboard/start.js";

export interface BuildCliOptions {
  readonly tree: string;
  readonly local?: string;
  readonly slots?: string;
  readonly hosts?: string;
  readonly work: string;
  readonly pkgs?: string;
  readonly make?: string;
  readonly config?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly verbose?: boolean;
  readonly shell?: string;
  /** --dashboard [ADDR]: true without an address. */
  readonly dashboard?: string | boolean;
  readonly token?: string;
}

/** `herd build` and `herd demo`. */
export function registerBuild(program: Command): void {
  program
    .command("build")
    .description("run (or resume) a bulk build: sync, scan, resolve, plan, build, report")
    .requiredOption("-t, --tree <dir>", "the pkgsrc tree")
    .option("-l, --local <n>", "use N local build hosts")
    .option("--slots <k>", "with --local: packages each local host builds at once", "1")
    .option(
      "-H, --hosts <file>",
      "use the hosts of this hosts file (watched: hosts join and leave as it changes)",
    )
    .option("-w, --work <dir>", "work directory: state, packages, logs, report", "work")
    .option("--pkgs <file>", "build only these PKGPATHs (one per line) and what they need")
    .option("--make <path>", "make program on the hosts (default bmake)")
    .option("-c, --config <file>", "JSON config file (see the README)")
    .option("--shell <cmd>", "shell running local agents: sh, dash or busybox", "sh")
    .option("--json", "NDJSON events on stdout")
    .option("-q, --quiet", "only the final summary")
    .option("--verbose", "every stage of every package")
    .option(
      "--dashboard [addr]",
      "serve a live dashboard (default 127.0.0.1, any free port; an address off loopback needs a token)",
    )
    .option(
      "--token <token>",
      `dashboard token: enables its controls (default: $${TOKEN_ENV}, or generated off loopback)`,
    )
    .action(async (opts: BuildCliOptions) => {
      await buildCommand(opts);
    });

  program
    .command("demo")
    .description("build the bundled fixture tree on 3 local hosts and print where the report is")
    .option("-w, --work <dir>", "work directory (default work/demo, with --real work/demo-real)")
    .option("--real", "build real packages of the real 2013 pkgsrc tree with its bootstrap")
    .option("--json", "NDJSON events on stdout")
    .action(async (opts: { work?: string; real?: boolean; json?: boolean }) => {
      const root = resolve(import.meta.dirname, "../../..");
      const json = opts.json === true ? { json: true } : {};
      let s: BuildSummary;
      if (opts.real === true) {
        const work = opts.work ?? "work/demo-real";
        const real = prepareRealDemo(root, resolve(work));
        s = await buildCommand(
          { tree: real.tree, local: "3", work, pkgs: real.pkgs, ...json },
          real.overrides,
        );
      } else {
        const tree = join(root, "tests/fixtures/tree");
        const tools = join(root, "tests/fixtures/tools");
        s = await buildCommand(
          { tree, local: "3", work: opts.work ?? "work/demo", ...json },
          { path: [tools] },
        );
      }
      if (opts.json !== true) {
        process.stdout.write(`\nreport:   ${s.report}\npackages: ${s.packages}/All\n`);
      }
    });
}

async function buildCommand(
  opts: BuildCliOptions,
  overrides: Partial<Config> = {},
): Promise<BuildSummary> {
  const tree = resolve(opts.tree);
  if (!existsSync(join(tree, "mk")))
    throw new UserError(
      "tree",
      `${tree} does not look like a pkgsrc tree (no mk/ directory)`,
      "pass the top of the tree with --tree",
    );
  const base = loadConfig(opts.config);
  const config: Config = {
    ...base,
    ...overrides,
    ...(opts.make === undefined ? {} : { make: opts.make }),
  };
  // --local N or --hosts FILE, checked (and a hosts file parsed) before anything starts.
  const entries = hostEntries(opts);
  const work = resolve(opts.work);
  const pkgs = opts.pkgs === undefined ? undefined : readPkgList(opts.pkgs, tree);
  const mode: OutputMode = opts.json === true ? "json" : process.stderr.isTTY ? "tty" : "plain";
  const display = createDisplay(mode, mode === "json" ? process.stdout : process.stderr, {
    ...(opts.quiet === true ? { quiet: true } : {}),
    ...(opts.verbose === true ? { verbose: true } : {}),
  });
  const bus = new EventBus();
  bus.on(display.onEvent);
  // Everything checked: the tree's id, stamped if missing or stale (src/hosts/treesync/treestamp.ts).
  const stamped = currentTreeId(tree, work);
  const treeId = stamped.id;
  if (stamped.note !== null) bus.emit({ type: "warning", message: stamped.note });
  const syncs = new Map<string, boolean>();
  const pool = new HostPool({
    heartbeatTimeoutMs: config.heartbeatTimeout * 1000,
    prepare: allOf(
      treeSyncPrepare(
        tree,
        (h) => ({ dest: HOST.tree, sync: syncs.get(h.name) ?? true }),
        join(work, "tree-manifests"),
      ),
      prefixPrepare(config),
    ),
  });
  const sandboxIssue = sandboxProblem(config.sandbox);
  if (sandboxIssue !== undefined)
    throw new UserError(
      "config",
      `sandbox "${config.sandbox}": ${sandboxIssue}`,
      "install it, or set sandbox to another kind",
    );
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (stop = r));
  const onSignal = (): void => {
    bus.emit({
      type: "warning",
      message: "interrupted: stopping; run the same command again to resume",
    });
    stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let dashboard: DashboardServer | null = null;
  const control = new BuildControl();
  try {
    if (opts.dashboard !== undefined && opts.dashboard !== false) {
      dashboard = await buildDashboard({
        addr: opts.dashboard === true ? undefined : opts.dashboard,
        token: opts.token,
        bus,
        pool,
        control,
        work,
      });
      process.stderr.write(`dashboard: ${dashboard.url}\n`);
    }
    return await runBuild({
      tree,
      treeId,
      work,
      config,
      pool,
      hosts: [],
      bus,
      stop: stopped,
      // The control socket (herd hosts, herd attach) and the watched hosts file, once the work directory is ours.
      serve: async (wd) => {
        const served = await serveHosts({
          pool,
          work,
          tree,
          socketPath: wd.paths.control,
          syncs,
          sandbox: { kind: config.sandbox, localbase: config.localbase },
          ...(opts.hosts === undefined ? {} : { hostsFile: resolve(opts.hosts) }),
          warn: (message) => {
            bus.emit({ type: "warning", message });
          },
        });
        // --local N: the same factory as a hosts file's lines.
        if (opts.hosts === undefined)
          for (const e of entries) {
            const r = served.add(e);
            if (!r.ok) {
              await served.close();
              throw new UserError("hosts", r.error, "check the hosts and the config's sandbox");
            }
          }
        return served;
      },
      control,
      scan: (wd, onQuery) =>
        scanStep({
          ...(onQuery === undefined ? {} : { onQuery }),
          pool,
          tree,
          wd,
          bus,
          make: config.make,
          env: config.env,
          treeId,
          distfiles: config.distfiles === "master",
          ...(pkgs === undefined ? {} : { pkgs }),
        }),
      report: async (wd, id, finishedMs) =>
        writeReport(
          wd.paths.report,
          reportModel(
            wd.store,
            id,
            await readBuildDepends(join(wd.path, "builds", String(id))),
            finishedMs,
          ),
        ),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await dashboard?.close(`the build has ended; herd serve --work ${work} shows it again`);
    display.close();
    await pool.close();
  }
}
