/**
 * Publishing a finished build: the repository (without RESTRICTED and
 * NO_BIN_ON_FTP packages, as pbulk leaves them out) and the report go to a
 * destination with rsync (over ssh for `host:path`), with retries. A failed
 * upload is an error the operator sees, never a silent skip.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

export interface PublishOptions {
  /** rsync destination: a local path or [user@]host:path (over ssh, host keys checked). */
  readonly destination: string;
  readonly retries: number;
  /** Package files (NAME.tgz) to leave out. */
  readonly exclude: ReadonlySet<string>;
  readonly packagesDir: string;
  readonly reportDir: string;
  /** Scratch directory for the exclusion list. */
  readonly scratch: string;
  readonly onAttempt?: (attempt: number, error: string) => void;
}

export type PublishResult =
  { ok: true; attempts: number } | { ok: false; attempts: number; error: string };

function rsync(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("rsync", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (e) => {
      resolve({ code: 127, stderr: `cannot run rsync: ${e.message}` });
    });
    child.on("close", (code) => {
      resolve({ code, stderr });
    });
  });
}

/** Uploads packages/ and report/ to the destination. */
export async function publish(o: PublishOptions): Promise<PublishResult> {
  const excludeFile = join(o.scratch, "publish-exclude");
  // rsync patterns: anchor each file name under All/ so nothing else is matched.
  const packages = o.packagesDir.replace(/\/+$/, "");
  const report = o.reportDir.replace(/\/+$/, "");
  await writeFile(
    excludeFile,
    [...o.exclude].map((f) => `/${basename(packages)}/All/${f}\n`).join(""),
  );
  // Both directories in one transfer: DEST/packages and DEST/report.
  const args = [
    "-rlt",
    "--delete",
    "--delete-excluded",
    `--exclude-from=${excludeFile}`,
    "--",
    packages,
    report,
    `${o.destination.replace(/\/+$/, "")}/`,
  ];
  for (let attempt = 1; ; attempt++) {
    const r = await rsync(args);
    if (r.code === 0) return { ok: true, attempts: attempt };
    const error = `rsync exited ${r.code ?? "on a signal"}: ${r.stderr.trim().split("\n").at(-1) ?? ""}`;
    o.onAttempt?.(attempt, error);
    if (attempt > o.retries) return { ok: false, attempts: attempt, error };
    await new Promise((done) => setTimeout(done, Math.min(30_000, 1000 * 2 ** attempt)));
  }
}
