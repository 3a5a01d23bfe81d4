import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { UserError } from "./errors.js";

/**
 * Writes byte (or latin1 text) chunks to a file atomically (temp file + rename), so an
 * interrupted run never leaves a half-written file where a good one was; "-"
 * writes to stdout.
 */
export async function writeChunks(path: string, chunks: Iterable<Buffer | string>): Promise<void> {
  if (path === "-") {
    for (const c of chunks) {
      if (!process.stdout.write(typeof c === "string" ? Buffer.from(c, "latin1") : c))
        await once(process.stdout, "drain");
    }
    return;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(tmp);
  try {
    await once(out, "open");
    for (const c of chunks) {
      if (!out.write(typeof c === "string" ? Buffer.from(c, "latin1") : c))
        await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    await rename(tmp, path);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw new UserError(
      "output",
      `cannot write ${path}: ${(err as Error).message}`,
      "check the directory exists and has space",
      {
        cause: err,
      },
    );
  }
}
