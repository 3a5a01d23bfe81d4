/**
 * Several package directories scanned in one agent task: one round trip and
 * one shell for the lot instead of one of each per directory, which is most
 * of what herd adds to a scan on a slow host. The shell runs the same argv
 * in each directory, as a task of its own would (`cd` then exec, in a
 * subshell), and after each writes a line with a nonce and the exit status
 * to stdout and a line with the nonce to stderr, so each directory's output
 * comes back byte for byte as a single task's would.
 */
import { randomBytes } from "node:crypto";
import { isPkgPath } from "../core/records.js";

/** Directories per batch: at most this many, and few enough that every host gets several batches. */
export const MAX_BATCH = 8;

/** How many directories go in one task for `n` directories on about `hosts` hosts, `most` at most. */
export function batchSize(n: number, hosts: number, most = MAX_BATCH): number {
  return Math.max(1, Math.min(most, Math.floor(n / (4 * Math.max(1, hosts)))));
}

/** A fresh nonce for one batch's separators. */
export function batchNonce(): string {
  return `herd-batch-${randomBytes(12).toString("hex")}`;
}

/**
 * The argv of one task that runs `argv` in each of `dirs` (relative to the
 * task's cwd). PKGPATHs only (category/name, no blanks: isPkgPath): they
 * travel as one blank-separated word (the protocol carries no newline in a
 * word) and are split with globbing off.
 */
export function batchArgv(
  dirs: readonly string[],
  argv: readonly string[],
  nonce: string,
): string[] {
  if (!dirs.every(isPkgPath))
    throw new Error(`bug: not a PKGPATH in a scan batch: ${dirs.join(" ")}`);
  return [
    "sh",
    "-c",
    "set -f; n=$1; dirs=$2; shift 2; " +
      'for d in $dirs; do (cd "$d" && exec "$@"); s=$?; ' +
      'printf "\\n%s %s\\n" "$n" "$s"; printf "\\n%s\\n" "$n" >&2; done',
    "herd-scan-batch",
    nonce,
    dirs.join(" "),
    ...argv,
  ];
}

export interface BatchPart {
  readonly status: number;
  readonly output: Buffer;
  readonly stderr: Buffer;
}

/**
 * Splits a batch's stdout and stderr into one part per directory, in order;
 * undefined for a directory whose separators are missing (the shell died).
 */
export function splitBatch(
  out: Buffer,
  err: Buffer,
  nonce: string,
  count: number,
): (BatchPart | undefined)[] {
  const parts: (BatchPart | undefined)[] = [];
  const outMark = Buffer.from(`\n${nonce} `);
  const errMark = Buffer.from(`\n${nonce}\n`);
  let o = 0;
  let e = 0;
  for (let i = 0; i < count; i++) {
    const om = out.indexOf(outMark, o);
    const em = err.indexOf(errMark, e);
    const nl = om < 0 ? -1 : out.indexOf(0x0a, om + outMark.length);
    const status = nl < 0 ? NaN : Number(out.subarray(om + outMark.length, nl).toString("latin1"));
    if (om < 0 || em < 0 || nl < 0 || !Number.isInteger(status)) {
      while (parts.length < count) parts.push(undefined);
      return parts;
    }
    parts.push({ status, output: out.subarray(o, om), stderr: err.subarray(e, em) });
    o = nl + 1;
    e = em + errMark.length;
  }
  return parts;
}
