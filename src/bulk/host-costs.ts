/**
 * What the live build measures of each host's start costs, fed to the
 * scheduler (src/core/sched/startcost.ts): the host's link speed (the
 * running average of its connection's puts, src/hosts/put.ts), the seconds
 * it takes to install one dependency package (its Depends stages less the
 * time spent in puts during them, a running average), and the real size of
 * each package once built into the repository.
 *
 * Puts of two slots of one host overlap: a stage's share of put time is the
 * connection's total over the stage, which may count the other slot's too,
 * so the install time errs low, never below 0.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HostName } from "../core/hostspec.js";
import type { LinkRate } from "../hosts/put.js";
import { hostFile } from "./layout.js";

/**
 * The scheduler's view of what each build installs (TransferOptions.installs):
 * the packages to build are ids 0..n-1 in their order, every other package
 * a build installs (up to date, or built by an earlier run) an id from n on,
 * with its size from `sizeOf` (the repository's file; undefined when not known).
 */
export function installSpace(
  packages: readonly { readonly pkgname: string; readonly installs: readonly string[] }[],
  sizeOf: (pkgname: string) => number | undefined,
): { installs: Int32Array[]; bytes: (number | undefined)[]; ids: Map<string, number> } {
  const ids = new Map<string, number>();
  const bytes: (number | undefined)[] = [];
  for (const p of packages) {
    ids.set(p.pkgname, ids.size);
    bytes.push(undefined);
  }
  const installs = packages.map((p) => {
    const out = new Int32Array(p.installs.length);
    p.installs.forEach((name, k) => {
      let id = ids.get(name);
      if (id === undefined) {
        ids.set(name, (id = ids.size));
        bytes.push(sizeOf(name));
      }
      out[k] = id;
    });
    return out;
  });
  return { installs, bytes, ids };
}

/** The scheduler's side: what it is told. */
export interface CostSink {
  setHostCosts(name: HostName, figures: { link?: number; install?: number }): void;
  setPackageBytes(task: number, bytes: number): void;
}

/** How much of the past the install average keeps at each Depends stage. */
const INSTALL_DECAY = 0.8;

/** What is known of a host's start costs: its link (bytes/s) and seconds per install. */
export interface HostFigures {
  link?: number;
  install?: number;
}

export class HostCostMeter {
  readonly #install = new Map<HostName, number>();
  /** Per host and slot, the connection's put seconds when the slot's last stage ended. */
  readonly #mark = new Map<string, number>();

  constructor(
    private readonly sink: CostSink,
    /** Told each host's figures whenever they change (to remember them for the next master). */
    private readonly remember?: (host: HostName, figures: HostFigures) => void,
  ) {}

  /**
   * A stage ended in a slot of a host. `deps`: the dependency packages its
   * Depends stage installs. Tells the scheduler the host's link and, after
   * a Depends stage, its install time per package.
   */
  stage(
    host: HostName,
    slot: number,
    link: LinkRate,
    stage: string,
    wallMs: number,
    deps: number,
  ): void {
    const key = `${slot}@${host}`;
    const before = this.#mark.get(key) ?? link.totalSeconds;
    this.#mark.set(key, link.totalSeconds);
    const figures: { link?: number; install?: number } = {};
    const rate = link.bytesPerSecond;
    if (rate !== undefined) figures.link = rate;
    if (stage === "Depends" && deps > 0) {
      const each = Math.max(0, wallMs / 1000 - (link.totalSeconds - before)) / deps;
      const old = this.#install.get(host);
      const avg = old === undefined ? each : old * INSTALL_DECAY + each * (1 - INSTALL_DECAY);
      this.#install.set(host, avg);
      figures.install = avg;
    }
    if (figures.link === undefined && figures.install === undefined) return;
    this.sink.setHostCosts(host, figures);
    if (stage === "Depends" && this.remember !== undefined) {
      const install = this.#install.get(host);
      this.remember(host, { ...figures, ...(install === undefined ? {} : { install }) });
    }
  }

  /** A package was built: its file has this many bytes. */
  built(task: number, bytes: number): void {
    this.sink.setPackageBytes(task, bytes);
  }
}

/**
 * Each host's figures, kept in the master's work directory (a JSON file per
 * host), so a master that starts again places work by what the last one
 * measured instead of taking every link for free until its first transfer.
 * A host's file is written at its first figures, then at most once every
 * `every` ms (a busy host ends a Depends stage every few seconds, and the
 * figures are running averages); `flush()` writes what is still waiting.
 */
export class RememberedFigures {
  readonly #last = new Map<string, number>();
  readonly #waiting = new Map<string, HostFigures>();
  #dirMade = false;

  constructor(
    private readonly dir: string,
    private readonly every = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every host's remembered figures; unreadable or implausible files are skipped. */
  all(): Map<string, HostFigures> {
    const out = new Map<string, HostFigures>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return out;
    }
    for (const f of names) {
      if (!f.endsWith(".json")) continue;
      try {
        const v = JSON.parse(readFileSync(join(this.dir, f), "utf8")) as Record<string, unknown>;
        const figures: HostFigures = {};
        if (typeof v.link === "number" && v.link > 0 && Number.isFinite(v.link))
          figures.link = v.link;
        if (typeof v.install === "number" && v.install >= 0 && Number.isFinite(v.install))
          figures.install = v.install;
        out.set(f.slice(0, -".json".length), figures);
      } catch {
        // A torn or foreign file: measured again.
      }
    }
    return out;
  }

  /** A host's latest figures: written now, or within `every` ms of its last write. */
  save(host: string, figures: HostFigures): void {
    const last = this.#last.get(host);
    const now = this.now();
    if (last !== undefined && now - last < this.every) {
      this.#waiting.set(host, figures);
      return;
    }
    this.#write(host, figures, now);
  }

  /** Writes every host's figures still waiting (at the build's end). */
  flush(): void {
    for (const [host, figures] of this.#waiting) this.#write(host, figures, this.now());
  }

  #write(host: string, figures: HostFigures, now: number): void {
    this.#waiting.delete(host);
    this.#last.set(host, now);
    try {
      const file = hostFile(this.dir, host, ".json");
      if (!this.#dirMade) mkdirSync(this.dir, { recursive: true });
      this.#dirMade = true;
      writeFileSync(`${file}.tmp`, JSON.stringify(figures));
      renameSync(`${file}.tmp`, file);
    } catch {
      // Not remembered: the next master measures it again.
    }
  }
}
