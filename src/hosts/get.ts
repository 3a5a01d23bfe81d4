/** Host → master file transfer helpers over AgentConnection.get. */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { err, ok, type Result } from "../protocol/result.js";
import type { AgentConnection, RequestFailure } from "./connection.js";

/** Fetches a file from the host into memory, checked by cksum. */
export function getBuffer(
  conn: AgentConnection,
  path: string,
): Promise<Result<Buffer, RequestFailure>> {
  return new Promise((settle) => {
    const parts: Buffer[] = [];
    conn.get(path, {
      data: (c) => parts.push(c),
      end: (check) => {
        settle(
          check.intact
            ? ok(Buffer.concat(parts))
            : err({ reason: "corrupt", message: `${path} failed its checksum in transit` }),
        );
      },
      fail: (f) => {
        settle(err(f));
      },
    });
  });
}

/**
 * Fetches a file from the host into `dest`: written beside it first and
 * renamed into place only when intact, so a half-received file is never seen.
 */
export function getToFile(
  conn: AgentConnection,
  path: string,
  dest: string,
  opts: { readonly keep?: boolean } = {},
): Promise<Result<{ size: number; crc: number; bytes?: Buffer }, RequestFailure>> {
  const part = `${dest}.part`;
  return new Promise((settle, reject) => {
    let fd: number | null = null;
    let size = 0;
    // keep: the bytes as written, for a caller that would read the file back at once.
    const kept: Buffer[] | undefined = opts.keep === true ? [] : undefined;
    // A local write error (the master's disk is full) is thrown to the caller, not into the link's data handler.
    let failed: { error: unknown } | undefined;
    const finish = (): void => {
      if (fd !== null) closeSync(fd);
      fd = null;
    };
    conn.get(path, {
      data: (c) => {
        if (failed !== undefined) return;
        try {
          fd ??= openSync(part, "w");
          writeSync(fd, c);
          size += c.length;
          kept?.push(c);
        } catch (error) {
          failed = { error };
        }
      },
      end: (check) => {
        try {
          if (failed !== undefined) throw failed.error;
          fd ??= openSync(part, "w");
          finish();
        } catch (error) {
          finish();
          rmSync(part, { force: true });
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (!check.intact) {
          rmSync(part, { force: true });
          settle(err({ reason: "corrupt", message: `${path} failed its checksum in transit` }));
          return;
        }
        renameSync(part, dest);
        settle(
          ok(
            kept === undefined
              ? { size, crc: check.crc }
              : { size, crc: check.crc, bytes: Buffer.concat(kept, size) },
          ),
        );
      },
      fail: (f) => {
        finish();
        rmSync(part, { force: true });
        settle(err(f));
      },
    });
  });
}
