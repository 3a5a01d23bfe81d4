import type { Command } from "commander";
import { classify, summaryLine } from "../core/classify.js";
import { printResolution, resolveRecords } from "../core/resolve.js";
import { printable } from "../core/records.js";
import { ndjson } from "../events/ndjson.js";
import { UserError } from "./errors.js";
import { readScanFile } from "./input.js";
import { writeChunks } from "./output.js";

interface ResolveOptions {
  readonly output?: string;
  readonly json?: boolean;
}

/** `herd resolve SCANFILE [-o OUT]`: pbulk-resolve -p, byte for byte. */
export function registerResolve(program: Command): void {
  program
    .command("resolve")
    .description("resolve the dependencies of a pbulk-index scan exactly as pbulk-resolve -p does")
    .argument("<scanfile>", "pbulk-index output (plain, .zst, or - for stdin)")
    .option("-o, --output <file>", "write the resolved records here (default: stdout)")
    .option("--json", "with -o: print the summary and problems as NDJSON events on stdout")
    .action(async (scanfile: string, opts: ResolveOptions) => {
      await runResolve(scanfile, opts);
    });
}

async function runResolve(scanfile: string, opts: ResolveOptions): Promise<void> {
  const json = opts.json === true;
  if (json && opts.output === undefined)
    throw new UserError(
      "usage",
      "--json needs -o FILE (stdout carries the events)",
      "add -o resolved.txt",
    );
  const emit = (line: string, event: { type: string; [k: string]: unknown }): void => {
    if (json) process.stdout.write(ndjson(event));
    else process.stderr.write(line + "\n");
  };
  const records = await readScanFile(scanfile);
  const res = resolveRecords(records);
  const name = scanfile === "-" ? "<stdin>" : scanfile;
  if (res.errors.length > 0) {
    if (json)
      for (const e of res.errors)
        emit("", { type: "resolve-error", file: name, ...e, pkgname: records[e.pkg]!.pkgname });
    const first = res.errors[0]!;
    const more = res.errors.length > 1 ? ` (and ${res.errors.length - 1} more problems)` : "";
    throw new UserError(
      "resolve",
      `${name}:${first.line}: ${printable(first.message)}${more}`,
      first.hint,
    );
  }
  for (const u of res.unresolved) {
    const pkgname = records[u.pkg]!.pkgname;
    emit(`No match found for dependency ${u.pattern} of package ${pkgname}`, {
      type: "unresolved",
      pkgname,
      pattern: u.pattern,
    });
  }
  for (const c of res.cycles) {
    const names = c.map((i) => records[i]!.pkgname);
    emit(`dependency cycle: ${[...names, names[0]].join(" -> ")}`, {
      type: "cycle",
      packages: names,
    });
  }
  await writeChunks(opts.output ?? "-", printResolution(res));
  const cls = classify(res);
  emit(summaryLine(cls), {
    type: "resolve-summary",
    packages: records.length,
    ...cls.counts,
    unresolvedDependencies: cls.unresolvedDependencies,
  });
}
