/**
 * Where things live: on a build host (relative to the agent's root
 * directory) and in the master's work directory.
 */
import { join } from "node:path";

/** Paths on a build host, relative to its agent root. */
export const HOST = {
  /** The host's copy of the pkgsrc tree. */
  tree: "pkgsrc",
  /** LOCALBASE: the prefix packages are installed into; emptied by the Init stage. */
  prefix: "pkg",
  pkgdb: "pkg/.pkgdb",
  /** Where `bmake package` leaves binary packages (PACKAGES). */
  packages: "packages",
  /** Binary packages received from the master, kept between builds. */
  cache: "cache",
  /** WRKOBJDIR: build directories. */
  work: "work",
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
  };
}
