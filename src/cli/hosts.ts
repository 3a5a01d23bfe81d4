import type { Command } from "commander";
import { resolve } from "node:path";
import { workPaths } from "../bulk/layout.js";
import { controlRequest, type ControlRequest, type HostRow } from "../hosts/control.js";
import { UserError } from "./errors.js";

interface HostsOptions {
  readonly work: string;
  readonly json?: boolean;
}

async function send(opts: HostsOptions, req: ControlRequest): Promise<void> {
  const r = await controlRequest(workPaths(resolve(opts.work)).control, req);
  if (!r.ok)
    throw new UserError(
      "control",
      r.error,
      "start herd build or herd scan, or pass its --work directory",
    );
  const reply = r.value;
  if (!reply.ok) throw new UserError("control", reply.error, "see herd hosts list");
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(reply) + "\n");
    return;
  }
  if (reply.hosts !== undefined) process.stdout.write(hostsTable(reply.hosts));
  if (reply.message !== undefined) process.stdout.write(`${reply.message}\n`);
}

/** The rows of `herd hosts list`, one line per host whatever its texts hold. */
export function hostsTable(rows: readonly HostRow[]): string {
  const head = ["NAME", "STATE", "SLOTS", "FREE", "SPEED", "TRANSPORT", "TAGS", "RUNNING"];
  const body = rows.map((h) =>
    [
      h.name,
      h.detail,
      String(h.slots),
      String(h.free),
      String(h.speed),
      h.transport,
      h.tags.join(","),
      h.tasks.map((t) => `${t.slot}:${t.label}`).join(" "),
    ].map(oneLine),
  );
  const widths = head.map((t, i) => Math.max(t.length, ...body.map((r) => r[i]!.length)));
  return [head, ...body]
    .map(
      (r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd() + "\n",
    )
    .join("");
}

/** A cell on one line: control characters (a reason's CR/LF) escaped as the log does. */
function oneLine(s: string): string {
  return JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"');
}

/** `herd hosts list|add|drain|remove`: talks to the running master over its control socket. */
export function registerHosts(program: Command): void {
  const hosts = program.command("hosts").description("the running master's build hosts");
  const common = (c: Command): Command =>
    c
      .option("-w, --work <dir>", "the running master's work directory", "work")
      .option("--json", "print the reply as JSON");
  common(hosts.command("list").description("list the hosts and their states")).action(
    async (opts: HostsOptions) => {
      await send(opts, { op: "list" });
    },
  );
  common(
    hosts
      .command("add")
      .description(
        "add a host for this run, given as a hosts-file line (edit the hosts file to keep it)",
      )
      .argument("<line...>", "NAME TRANSPORT [ADDRESS] [key=value ...]"),
  ).action(async (words: string[], opts: HostsOptions) => {
    await send(opts, { op: "add", line: words.join(" ") });
  });
  common(
    hosts
      .command("drain")
      .description("let a host finish every package it builds, then leave")
      .argument("<name>"),
  ).action(async (name: string, opts: HostsOptions) => {
    await send(opts, { op: "drain", name });
  });
  common(
    hosts
      .command("remove")
      .description("take a host away now; its tasks are requeued")
      .argument("<name>"),
  ).action(async (name: string, opts: HostsOptions) => {
    await send(opts, { op: "remove", name });
  });
}
