import type { Command } from "commander";
import { resolve } from "node:path";
import { workPaths } from "../bulk/layout.js";
import { attachHostCommand } from "../hosts/attach.js";
import { shellCommand } from "../hosts/local.js";
import { connectMaster, readFirstLine } from "../hosts/socket.js";
import { UserError } from "./errors.js";

interface AttachOptions {
  readonly work: string;
  readonly hostCommand?: boolean;
  readonly via?: string;
  readonly root: string;
  readonly shell?: string;
  readonly herd: string;
}

/**
 * `herd attach NAME`: run on the master (usually through ssh by the host),
 * it joins its stdin/stdout to the running master, so a host behind NAT can
 * dial in. `--host-command` prints the exact line the host runs.
 */
export function registerAttach(program: Command): void {
  program
    .command("attach")
    .description("relay stdin/stdout to the running master as host NAME (a host dialling in)")
    .argument("<name>", "the host's name in the master's host list")
    .option("-w, --work <dir>", "the running master's work directory", "work")
    .option("--host-command", "print the command the host runs to dial in, and exit")
    .option(
      "--via <cmd>",
      "with --host-command: how the host reaches the master, e.g. 'ssh herd@master'",
    )
    .option("--root <dir>", "with --host-command: the agent's directory on the host", "herd")
    .option("--shell <cmd>", "with --host-command: the host's shell (/bin/sh, dash, busybox)")
    .option("--herd <cmd>", "with --host-command: the herd command on the master", "herd")
    .action(async (name: string, opts: AttachOptions) => {
      if (opts.hostCommand === true) {
        const via = opts.via === undefined ? [] : opts.via.split(/\s+/).filter((w) => w !== "");
        process.stdout.write(
          attachHostCommand({
            name,
            via,
            herd: opts.herd.split(/\s+/).filter((w) => w !== ""),
            work: resolve(opts.work),
            root: opts.root,
            ...(opts.shell === undefined ? {} : { shell: shellCommand(opts.shell) }),
          }) + "\n",
        );
        return;
      }
      await relay(name, workPaths(resolve(opts.work)).control);
    });
}

async function relay(name: string, socketPath: string): Promise<void> {
  const sock = await connectMaster(socketPath, `attach ${name}`).catch((e: unknown) => {
    throw new UserError(
      "attach",
      `no herd master is listening at ${socketPath}`,
      "start herd build or herd scan with this --work directory first",
      { cause: e },
    );
  });
  // A master killed mid-link resets the connection: its close ends the relay below.
  sock.on("error", () => undefined);
  const verdict = await new Promise<{ line: string | null; rest: Buffer }>((res) => {
    readFirstLine(sock, (line, rest) => {
      res({ line, rest });
    });
  });
  if (verdict.line === null) {
    sock.destroy();
    throw new UserError(
      "attach",
      `the master at ${socketPath} closed the connection before it answered host ${JSON.stringify(name)}`,
      "the master may have stopped or been killed: check that herd build or herd scan still runs, then attach again",
    );
  }
  if (verdict.line !== "ok") {
    sock.destroy();
    throw new UserError(
      "attach",
      `the master refused host ${JSON.stringify(name)}: ${verdict.line.replace(/^refused /, "")}`,
      "check the name with herd hosts list",
    );
  }
  process.stdout.write(verdict.rest);
  sock.pipe(process.stdout);
  process.stdin.pipe(sock);
  await new Promise<void>((res) => {
    sock.once("close", () => {
      process.stdin.unpipe(sock);
      process.stdin.destroy();
      res();
    });
  });
}
