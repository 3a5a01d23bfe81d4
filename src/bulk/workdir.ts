/**
 * The master's work directory: created owner-only, locked against a second
 * master (a stale lock of a killed master is taken over), holding the store.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { UserError } from "../cli/errors.js";
import { Store } from "../store/store.js";
import { workPaths } from "./layout.js";

export interface Workdir {
  readonly path: string;
  readonly paths: ReturnType<typeof workPaths>;
  readonly store: Store;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Opens (creating) a work directory and takes its lock. */
export function openWorkdir(path: string): Workdir {
  const paths = workPaths(path);
  mkdirSync(path, { recursive: true, mode: 0o700 });
  for (const d of [paths.all, paths.logs, paths.report])
    mkdirSync(d, { recursive: true, mode: 0o755 });
  takeLock(paths.lock);
  // Half-received packages of a master that was killed: only the lock holder writes here.
  for (const f of readdirSync(paths.all))
    if (f.endsWith(".incoming") || f.endsWith(".part")) rmSync(join(paths.all, f), { force: true });
  let store: Store;
  try {
    store = new Store(paths.db);
    store.checkpointInThread();
  } catch (e) {
    rmSync(paths.lock, { force: true });
    throw new UserError(
      "store",
      `cannot open ${paths.db}: ${(e as Error).message}`,
      "is the work directory on a full or read-only disk?",
    );
  }
  let released = false;
  return {
    path,
    paths,
    store,
    release: () => {
      if (released) return;
      released = true;
      store.close();
      rmSync(paths.lock, { force: true });
    },
  };
}

function takeLock(lock: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(lock, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UserError(
          "locked",
          `another herd master (pid ${pid}) is running on this work directory`,
          `wait for it, stop it, or use another --work directory; the lock is ${lock}`,
        );
      }
      rmSync(lock, { force: true });
    }
  }
  throw new UserError(
    "locked",
    `cannot take the lock ${lock}`,
    "remove it if no herd master is running",
  );
}
