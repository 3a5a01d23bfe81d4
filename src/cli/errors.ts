/** A mistake the operator can fix: one line of what is wrong and where, plus a hint. */
export class UserError extends Error {
  readonly code: string;
  readonly hint: string;
  constructor(code: string, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UserError";
    this.code = code;
    this.hint = hint;
  }
}

/** Prints an error as one line plus a hint; a stack only with --verbose or for bugs. */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof UserError) {
    process.stderr.write(`herd: error: ${err.message}\n`);
    if (err.hint !== "") process.stderr.write(`hint: ${err.hint}\n`);
    if (verbose && err.cause !== undefined)
      process.stderr.write(
        `cause: ${err.cause instanceof Error ? err.cause.message : JSON.stringify(err.cause)}\n`,
      );
    return 2;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const disk = diskProblem(e);
  if (disk !== undefined) {
    // Not a bug: the operator frees space and runs the same command again.
    process.stderr.write(`herd: error: ${disk}\n`);
    process.stderr.write(
      "hint: free space on the work directory's disk and run the same command again to resume\n",
    );
    if (verbose) process.stderr.write(`${e.stack ?? ""}\n`);
    return 2;
  }
  process.stderr.write(`herd: internal error: ${e.message}\n`);
  process.stderr.write(
    verbose ? `${e.stack ?? ""}\n` : "hint: run again with --verbose for details\n",
  );
  return 70;
}

/** A full or read-only disk, as Node's fs or SQLite reports it. */
function diskProblem(e: Error): string | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL")
    return `the disk is full (${e.message})`;
  if (code === "EROFS" || code === "SQLITE_READONLY") return `the disk is read-only (${e.message})`;
  return undefined;
}
