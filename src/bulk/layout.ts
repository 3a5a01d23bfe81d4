/**
 * Where things live: on a build host (relative to the agent's root
 * directory) and in the master's work directory.
 */
import { join } from "node:path";

/** Paths on a build host, relative to its agent root. */
export const HOST = {
  /** The host's copy of the pkgsrc tree. */
  tree: "pkgsrc",
  /** Binary packages received from the master, kept between builds, shared by the slots. */
  cache: "cache",
  /** DISTDIR: distfiles the host fetched or received, kept between builds, shared by the slots. */
  distfiles: "distfiles",
  // Each slot's prefix, PKG_DBDIR, PACKAGES and WRKOBJDIR: slotPaths() in src/hosts/sandbox.ts.
} as const;

/** Paths in the master's work directory. */
export function workPaths(work: string): {
  db: string;
  lock: string;
  control: string;
  packages: string;
  all: string;
  logs: string;
  report: string;
  hosts: string;
  sent: string;
  figures: string;
  distfiles: string;
} {
  return {
    db: join(work, "herd.db"),
    lock: join(work, "herd.lock"),
    control: join(work, "control.sock"),
    packages: join(work, "packages"),
    all: join(work, "packages", "All"),
    logs: join(work, "logs"),
    report: join(work, "report"),
    hosts: join(work, "hosts"),
    /** Per build host, what it was sent into its cache (src/bulk/host-holdings.ts). */
    sent: join(work, "sent"),
    /** Per build host, its link speed and install time as last measured (src/bulk/host-costs.ts). */
    figures: join(work, "host-figures"),
    distfiles: join(work, "distfiles"),
  };
}

/** Host names that can name a file of their own in the work directory. */
const FILE_SAFE_HOST = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A host's own file in a directory of the master's work directory (what it
 * was sent, its measured figures). Host names are checked where hosts are
 * configured; this throws for one that could not name a file (`../x`).
 */
export function hostFile(dir: string, host: string, suffix = ""): string {
  if (!FILE_SAFE_HOST.test(host))
    throw new Error(`host name ${JSON.stringify(host)} cannot name a file`);
  return join(dir, `${host}${suffix}`);
}
