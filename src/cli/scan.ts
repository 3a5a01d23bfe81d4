import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { scanStep } from "../bulk/scan-step.js";
import { openWorkdir } from "../bulk/workdir.js";
import { printRecord } from "../core/records.js";
import { forwardHostEvents } from "../events/hosts.js";
import { EventBus } from "../events/types.js";
import { localEntries, HOST_TREE } from "../hosts/factory.js";
import { parseHostsFile, type HostEntry } from "../hosts/hostsfile.js";
import { HostPool } from "../hosts/pool.js";
import { treeSyncPrepare } from "../hosts/treesync/treesync.js";
import { currentTreeId } from "../hosts/treesync/treestamp.js";
import { UserError } from "./errors.js";
import { writeChunks } from "./output.js";
import { createDisplay, type OutputMode } from "./progress.js";
import { serveHosts, type Served } from "../hosts/serve.js";

interface ScanOptions {
  readonly tree: string;
  readonly local?: string;
  readonly slots?: string;
  readonly hosts?: string;
  readonly output: string;
  readonly make: string;
  readonly pkgs?: string;
  readonly work: string;
  readonly shell?: string;
  readonly heartbeatTimeout: string;
  readonly json?: boolean;
  readonly batch: string;
}

/** `herd scan`: `make pbulk-index` in every package directory, spread over the hosts. */
export function registerScan(program: Command): void {
  program
    .command("scan")
    .description(
      "scan the tree (bmake pbulk-index per package) on the hosts and write pbulk-scan output",
    )
    .requiredOption("-t, --tree <dir>", "the pkgsrc tree (its id is stamped when missing or stale)")
    .option("-l, --local <n>", "use N local hosts")
    .option("--slots <k>", "with --local: directories each local host scans at once", "1")
    .option("-H, --hosts <file>", "use the hosts in this hosts file")
    .option("-o, --output <file>", "write the records here (- for stdout)", "-")
    .option("--make <path>", "make program on the hosts", "bmake")
    .option(
      "--pkgs <file>",
      "scan only these PKGPATHs (one per line) and the directories they depend on",
    )
    .option("-w, --work <dir>", "work directory (keeps scans for incremental rescans)", "work")
    .option("--shell <cmd>", "shell for --local agents: sh, dash or busybox")
    .option("--heartbeat-timeout <s>", "seconds of silence before a host counts as lost", "30")
    .option("--json", "NDJSON events on stderr instead of progress lines")
    .option(
      "--batch <n>",
      "most package directories one task scans (one round trip and one shell for them all; 1: one each)",
      "8",
    )
    .action(async (opts: ScanOptions) => {
      await runScan(opts);
    });
}

/** Hosts from --local N or --hosts FILE (exactly one of them). */
export function hostEntries(opts: {
  local?: string;
  slots?: string;
  hosts?: string;
  shell?: string;
}): HostEntry[] {
  if ((opts.local === undefined) === (opts.hosts === undefined)) {
    throw new UserError(
      "usage",
      "give exactly one of --local N and --hosts FILE",
      "e.g. --local 4",
    );
  }
  if (opts.local !== undefined) {
    const n = Number(opts.local);
    if (!Number.isInteger(n) || n < 1 || n > 256) {
      throw new UserError(
        "usage",
        "--local N needs a number of hosts from 1 to 256",
        "e.g. --local 4",
      );
    }
    const slots = Number(opts.slots ?? "1");
    if (!Number.isInteger(slots) || slots < 1 || slots > 1024)
      throw new UserError("usage", "--slots K needs a number from 1 to 1024", "e.g. --slots 4");
    return localEntries(n, opts.shell ?? null, slots);
  }
  const file = opts.hosts!;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError("hosts-file", `cannot read the hosts file ${file}`, "check the path", {
      cause: e,
    });
  }
  const parsed = parseHostsFile(text, file);
  if (!parsed.ok) throw new UserError(parsed.error.code, parsed.error.message, parsed.error.hint);
  if (parsed.value.length === 0)
    throw new UserError("hosts-file", `${file} lists no hosts`, "one host per line");
  return parsed.value;
}

async function runScan(opts: ScanOptions): Promise<void> {
  const tree = resolve(opts.tree);
  if (!existsSync(join(tree, "mk"))) {
    throw new UserError(
      "tree",
      `${tree} does not look like a pkgsrc tree (no mk/)`,
      "pass the top of the tree",
    );
  }
  const heartbeat = Number(opts.heartbeatTimeout);
  if (!(heartbeat > 0))
    throw new UserError("usage", "--heartbeat-timeout needs a number of seconds", "e.g. 30");
  const batch = Number(opts.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 1000)
    throw new UserError("usage", "--batch N needs a number from 1 to 1000", "e.g. --batch 8");
  const entries = hostEntries(opts);
  const pkgs = opts.pkgs === undefined ? undefined : readPkgList(opts.pkgs, tree);
  const work = resolve(opts.work);
  const syncs = new Map<string, boolean>();
  const mode: OutputMode = opts.json === true ? "json" : process.stderr.isTTY ? "tty" : "plain";
  const display = createDisplay(mode, process.stderr);
  const bus = new EventBus();
  bus.on(display.onEvent);
  // The tree's id, stamped if missing or stale, before any host compares its copy with it.
  const stamped = currentTreeId(tree, work);
  if (stamped.note !== null) bus.emit({ type: "warning", message: stamped.note });
  const pool = new HostPool({
    heartbeatTimeoutMs: heartbeat * 1000,
    prepare: treeSyncPrepare(
      tree,
      (h) => ({ dest: HOST_TREE, sync: syncs.get(h.name) ?? true }),
      join(work, "tree-manifests"),
    ),
  });
  forwardHostEvents(pool, bus, { busy: true });
  const wd = openWorkdir(work);
  let served: Served | undefined;
  let failed = 0;
  bus.on((e) => {
    if (e.type === "scan-error") failed++;
  });
  try {
    bus.emit({ type: "phase", phase: "scan" });
    served = await serveHosts({
      pool,
      work,
      tree,
      socketPath: wd.paths.control,
      syncs,
      ...(opts.hosts === undefined ? {} : { hostsFile: resolve(opts.hosts) }),
      warn: (message) => {
        bus.emit({ type: "warning", message });
      },
    });
    if (opts.hosts === undefined) {
      for (const e of entries) {
        const r = served.add(e);
        if (!r.ok) throw new UserError("hosts", r.error, "check the hosts");
      }
    }
    const { records } = await scanStep({
      pool,
      tree,
      treeId: stamped.id,
      wd,
      bus,
      make: opts.make,
      batch,
      ...(pkgs === undefined ? {} : { pkgs }),
    });
    await writeChunks(
      opts.output,
      // scanStep gives SCAN_DEPENDS in the master's tree's terms already.
      records.map((r) => printRecord(r)),
    );
    if (failed > 0) {
      bus.emit({
        type: "warning",
        message: `${failed} package directories failed to scan (see above)`,
      });
      process.exitCode = 1;
    }
  } finally {
    display.close();
    await served?.close();
    await pool.close();
    wd.release();
  }
}

/**
 * A --pkgs file: one PKGPATH per line, # comments; a bad line, a PKGPATH the
 * tree has no package directory for, or an empty list is an error naming
 * the file (and line).
 */
export function readPkgList(file: string, tree: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError("usage", `cannot read the package list ${file}`, "one PKGPATH per line", {
      cause: e,
    });
  }
  const out: string[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    if (!/^[A-Za-z0-9_+][A-Za-z0-9_.+-]*\/[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/.test(line)) {
      throw new UserError(
        "usage",
        `${file}:${i + 1}: ${JSON.stringify(line)} is not a PKGPATH`,
        "one category/dir per line",
      );
    }
    if (!existsSync(join(tree, line, "Makefile")))
      throw new UserError(
        "usage",
        `${file}:${i + 1}: ${line} is not a package directory of ${tree} (no ${line}/Makefile)`,
        "check the spelling, or remove the line",
      );
    out.push(line);
  }
  if (out.length === 0)
    throw new UserError(
      "usage",
      `${file} lists no PKGPATHs`,
      "one category/dir per line, or leave out --pkgs to build the whole tree",
    );
  return out;
}
