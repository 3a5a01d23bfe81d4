/**
 * What each build host was sent into its shared cache (ROOT/cache), kept in
 * the master's work directory (WORK/sent/NAME), so that a master that
 * restarts (a resume after a crash, the next build) neither sends a host
 * again what it holds nor places work as if the host held nothing.
 *
 * A line per package file sent: "SIZE MTIME_MS FILE", the master's file as
 * it was when sent. A file counts as held when the host still has a file of
 * that name and size (one `ls -ln` of its cache, once per connection) and
 * the master's file still has that size and mtime (it was not built again
 * since). Anything else is sent again, as before.
 */
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { hostFile } from "./layout.js";

interface Sent {
  readonly size: number;
  readonly mtimeMs: number;
}

/** Parses a host's record; malformed lines (a master killed mid-write) are skipped. */
export function parseSent(text: string): Map<string, Sent> {
  const out = new Map<string, Sent>();
  for (const line of text.split("\n")) {
    const m = /^(\d+) (\d+(?:\.\d+)?) ([^/\s]+)$/.exec(line);
    if (m === null) continue;
    out.set(m[3]!, { size: Number(m[1]), mtimeMs: Number(m[2]) });
  }
  return out;
}

/**
 * The files of an `ls -ln` listing with their sizes (POSIX: mode, links,
 * owner, group, size, three date fields, name). Lines that are not plain
 * files are skipped.
 */
export function parseListing(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("-")) continue;
    const f = line.trim().split(/\s+/);
    if (f.length !== 9) continue;
    const size = Number(f[4]);
    if (Number.isSafeInteger(size) && size >= 0) out.set(f[8]!, size);
  }
  return out;
}

export class HostHoldings {
  /**
   * The record files that are not empty, read once here and kept as records
   * are written: a host's first package asks known(), and a stat of its
   * record each time cost the build's first round, which starts a package on
   * hundreds of hosts one after another, some 30 us a start.
   */
  readonly #recorded = new Set<string>();
  #dirMade = false;

  constructor(
    /** WORK/sent */
    private readonly dir: string,
    /** The master's package files (WORK/packages/All). */
    private readonly repo: string,
  ) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // No directory yet: no host was ever sent anything.
    }
    for (const name of names) {
      try {
        const st = statSync(join(dir, name));
        if (st.isFile() && st.size > 0) this.#recorded.add(name);
      } catch {
        // Gone since the listing: nothing recorded.
      }
    }
  }

  #file(host: string): string {
    return hostFile(this.dir, host);
  }

  /** Remembers that the host was sent `file` (a name in the repository) as the master has it now. */
  sent(host: string, file: string): void {
    try {
      const st = statSync(join(this.repo, file));
      const record = this.#file(host);
      if (!this.#dirMade) mkdirSync(this.dir, { recursive: true });
      this.#dirMade = true;
      appendFileSync(record, `${st.size} ${st.mtimeMs} ${file}\n`);
      this.#recorded.add(basename(record));
    } catch {
      // Not remembered: at worst it is sent again after a restart.
    }
  }

  /** Whether anything was ever recorded for the host (else there is nothing to check there). */
  known(host: string): boolean {
    try {
      return this.#recorded.has(basename(this.#file(host)));
    } catch {
      return false;
    }
  }

  /**
   * The files the host holds as the master has them, given its cache
   * listing (`ls -ln`). Rewrites the record with only those, so it does not
   * grow without end.
   */
  held(host: string, listing: string): string[] {
    let sent: Map<string, Sent>;
    try {
      sent = parseSent(readFileSync(this.#file(host), "latin1"));
    } catch {
      return [];
    }
    const there = parseListing(listing);
    const out: string[] = [];
    for (const [file, s] of sent) {
      if (there.get(file) !== s.size) continue;
      try {
        const st = statSync(join(this.repo, file));
        if (st.size === s.size && st.mtimeMs === s.mtimeMs) out.push(file);
      } catch {
        // Gone from the repository: nothing to install it from anyway.
      }
    }
    try {
      const record = this.#file(host);
      writeFileSync(
        record,
        out.map((f) => `${sent.get(f)!.size} ${sent.get(f)!.mtimeMs} ${f}\n`).join(""),
      );
      if (out.length > 0) this.#recorded.add(basename(record));
      else this.#recorded.delete(basename(record));
    } catch {
      // The old record stays; it is checked the same way next time.
    }
    return out;
  }
}
