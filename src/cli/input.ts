import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { RecordParser, formatErrorText, type ScanRecord } from "../core/records.js";
import { UserError } from "./errors.js";

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Opens an input for streaming: a path, or "-" for stdin. zstd input (by
 * suffix or magic number) is decompressed by the zstd binary in a child
 * process, which keeps memory flat and uses the second core.
 */
export async function openInput(path: string): Promise<{ stream: Readable; done: Promise<void> }> {
  let zstd = path.endsWith(".zst");
  if (path !== "-" && !zstd) zstd = await hasZstdMagic(path);
  if (!zstd)
    return { stream: path === "-" ? process.stdin : checkedStream(path), done: Promise.resolve() };
  const child = spawn("zstd", ["-dcq", ...(path === "-" ? [] : ["--", path])], {
    stdio: [path === "-" ? "pipe" : "ignore", "pipe", "pipe"],
  });
  if (path === "-" && child.stdin !== null) process.stdin.pipe(child.stdin);
  const out = child.stdout;
  if (out === null || child.stderr === null) throw new Error("zstd child has no pipes");
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (err: NodeJS.ErrnoException) => {
      const e =
        err.code === "ENOENT"
          ? new UserError(
              "zstd-missing",
              `cannot decompress ${path}: the zstd command is not installed`,
              "install it: apt-get install zstd",
              { cause: err },
            )
          : err;
      out.destroy(e);
      reject(e);
    });
    child.on("close", (code) => {
      if (code === 0) resolve();
      else
        reject(
          new UserError(
            "zstd-failed",
            `cannot decompress ${path}: ${stderr.trim().split("\n")[0] ?? ""}`,
            "is the file a complete .zst archive?",
          ),
        );
    });
  });
  done.catch(() => undefined);
  return { stream: out, done };
}

async function hasZstdMagic(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw notReadable(path, err);
  }
  try {
    const buf = Buffer.alloc(4);
    // A directory opens fine and fails here (EISDIR).
    const { bytesRead } = await fh.read(buf, 0, 4, 0).catch((e: unknown) => {
      throw notReadable(path, e);
    });
    return bytesRead === 4 && buf.readUInt32LE(0) === ZSTD_MAGIC;
  } finally {
    await fh.close();
  }
}

function checkedStream(path: string): Readable {
  return createReadStream(path, { highWaterMark: 1 << 20 });
}

function notReadable(path: string, err: unknown): UserError {
  const code = (err as NodeJS.ErrnoException).code;
  return new UserError(
    "input",
    `cannot read ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(err)}`,
    "check the path",
    { cause: err },
  );
}

/** Reads a whole input as byte chunks. */
export async function* inputChunks(path: string): AsyncGenerator<Buffer> {
  const { stream, done } = await openInput(path);
  try {
    for await (const chunk of stream) yield chunk as Buffer;
    await done;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw notReadable(path, err);
  }
}

/** Reads and parses a pbulk-index / pbulk-resolve file; malformed input is a UserError. */
export async function readScanFile(
  path: string,
  options: { dropDuplicates?: boolean } = {},
): Promise<ScanRecord[]> {
  const name = path === "-" ? "<stdin>" : path;
  const parser = new RecordParser(name, options);
  for await (const chunk of inputChunks(path)) parser.push(chunk);
  const result = parser.end();
  if (!result.ok) throw new UserError("format", formatErrorText(result.error), result.error.hint);
  if (result.records.length === 0)
    throw new UserError(
      "format",
      `${name}: no PKGNAME= records found`,
      "is this the output of bmake pbulk-index?",
    );
  return result.records;
}
