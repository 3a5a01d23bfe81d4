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
  process.stderr.write(`herd: internal error: ${e.message}\n`);
  process.stderr.write(
    verbose ? `${e.stack ?? ""}\n` : "hint: run again with --verbose for details\n",
  );
  return 70;
}
