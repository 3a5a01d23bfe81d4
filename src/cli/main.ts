#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { reportError } from "./errors.js";
import { registerBuild } from "./build.js";
import { registerHistory } from "./history.js";
import { registerResolve } from "./resolve.js";
import { registerSimulate } from "./simulate.js";
import { registerTree } from "./tree.js";
import { registerServe } from "./serve.js";
import { registerScan } from "./scan.js";
import { registerAttach } from "./attach.js";
import { registerHosts } from "./hosts.js";
import { registerLogs } from "./logs.js";

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

registerResolve(program);
registerBuild(program);
registerHistory(program);
registerSimulate(program);
registerTree(program);
registerServe(program);
registerScan(program);
registerAttach(program);
registerHosts(program);
registerLogs(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else process.exitCode = reportError(err, program.opts<{ verbose?: boolean }>().verbose === true);
}
