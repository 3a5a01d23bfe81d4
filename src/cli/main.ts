#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { reportError } from "./errors.js";

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: a build loads
 * the scheduler, the store and the report; `herd tree id` or `herd hosts
 * drain` need none of it, and loading everything cost half a second a start.
 * In help order.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  resolve: async () => (await import("./resolve.js")).registerResolve,
  build: async () => (await import("./build.js")).registerBuild,
  history: async () => (await import("./history.js")).registerHistory,
  simulate: async () => (await import("./simulate.js")).registerSimulate,
  tree: async () => (await import("./tree.js")).registerTree,
  serve: async () => (await import("./serve.js")).registerServe,
  scan: async () => (await import("./scan.js")).registerScan,
  attach: async () => (await import("./attach.js")).registerAttach,
  hosts: async () => (await import("./hosts.js")).registerHosts,
  logs: async () => (await import("./logs.js")).registerLogs,
};
// Modules that register more than one command.
const ALIASES: Record<string, string> = { demo: "build" };

// Nothing herd writes (work directory, logs, packages, the store) is ever
// world-writable, whatever umask it was started with; group bits are the
// operator's choice.
process.umask(process.umask(0o022) | 0o002);

// `herd build --json | head`: a reader that goes away must not stop a build.
// The events go on into the store (herd serve, the report); stdout is dropped.
let stdoutGone = false;
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (stdoutGone) return;
  if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  stdoutGone = true;
  process.stderr.write(
    "herd: standard output was closed (EPIPE): going on without it; everything is kept in the work directory's store\n",
  );
});

const program = new Command();
program
  .name("herd")
  .description("distributed bulk builds of pkgsrc")
  .option("-v, --verbose", "show more detail, including stacks of internal errors")
  .showHelpAfterError("(run herd --help for usage)")
  .exitOverride();

// The command is the first word that is not an option (herd's own options take no value);
// for help, or a word that is no command, every command is registered.
const word = process.argv.slice(2).find((a) => !a.startsWith("-"));
const wanted = word === undefined ? undefined : (ALIASES[word] ?? word);
const one = wanted === undefined || !Object.hasOwn(COMMANDS, wanted) ? undefined : COMMANDS[wanted];
for (const load of one === undefined ? Object.values(COMMANDS) : [one]) (await load())(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else process.exitCode = reportError(err, program.opts<{ verbose?: boolean }>().verbose === true);
}
