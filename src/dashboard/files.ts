/**
 * Files the dashboard hands out: stage logs (only those the store names)
 * and the report directory (plain names under it, nothing above it).
 */
import { open, readFile, realpath, stat } from "node:fs/promises";
import { extname, join, sep } from "node:path";

/** The most of a log sent at once; longer logs are cut at the front. */
export const MAX_LOG_BYTES = 16 * 1024 * 1024;

/** A log's text, its last `tail` bytes when given (a note says what was left out); null if unreadable. */
export async function readLog(file: string, tail?: number): Promise<string | null> {
  const limit = Math.min(MAX_LOG_BYTES, tail ?? MAX_LOG_BYTES);
  try {
    const fh = await open(file, "r");
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(0, size - limit);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      let text = buf.toString("utf8");
      if (start > 0) {
        // Start at a whole line.
        const nl = text.indexOf("\n");
        if (nl >= 0 && nl < text.length - 1) text = text.slice(nl + 1);
        text = `[... the first ${size - buf.length} bytes and a partial line are not shown ...]\n${text}`;
      }
      return text;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** A file of the report directory by its path below it ("" → report.html); null if none. */
export async function reportFile(
  dir: string,
  rel: string,
): Promise<{ type: string; body: Buffer } | null> {
  let name: string;
  try {
    name = decodeURIComponent(rel.replace(/^\/+/, ""));
  } catch {
    return null;
  }
  if (name === "") name = "report.html";
  // Report files are plain names, and log copies one directory down.
  if (!/^(?:logs\/)?[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/.test(name)) return null;
  const type = TYPES[extname(name)];
  if (type === undefined) return null;
  try {
    const root = await realpath(dir);
    const real = await realpath(join(root, name));
    if (!real.startsWith(root + sep)) return null;
    if (!(await stat(real)).isFile()) return null;
    return { type, body: await readFile(real) };
  } catch {
    return null;
  }
}
