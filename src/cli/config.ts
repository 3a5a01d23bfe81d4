/**
 * The one configuration schema of a build: defaults and descriptions live
 * here; the config file (JSON) and the command line are two views of it.
 */
import { readFileSync } from "node:fs";
import { closest } from "../core/suggest.js";
import { isAbsolute, normalize } from "node:path";
import { z } from "zod";
import { DEFAULT_TARGETS, checkTargets } from "../core/targets.js";
import { POLICY_NAMES } from "../core/sched/priority.js";
import { SANDBOX_KINDS } from "../hosts/sandbox.js";
import { UserError } from "./errors.js";

export const ConfigSchema = z
  .object({
    make: z.string().min(1).default("bmake").describe("make program on the build hosts"),
    targets: z
      .array(z.string())
      .default([...DEFAULT_TARGETS])
      .describe(
        "per-package targets, in order (herd's own stages are capitalised; others run as `make TARGET`)",
      ),
    env: z
      .record(z.string(), z.string())
      .default({})
      .describe("extra environment for every target on every host"),
    path: z.array(z.string()).default([]).describe("directories prepended to PATH on every host"),
    makeJobs: z.number().int().min(1).default(1).describe("MAKE_JOBS on the hosts"),
    stageTimeout: z
      .number()
      .min(0)
      .default(0)
      .describe("seconds a single stage may run before it is killed (0: no limit)"),
    liveLog: z
      .number()
      .min(0)
      .default(5)
      .describe(
        "seconds between two looks at a running stage's output, streamed into its log on the master (0: the log arrives when the stage ends)",
      ),
    watchdog: z
      .number()
      .min(0)
      .default(3600)
      .describe("seconds a stage may go without printing anything before it is killed (0: never)"),
    heartbeatTimeout: z
      .number()
      .positive()
      .default(30)
      .describe("seconds without a sign of life before a host counts as lost"),
    keepDepends: z
      .boolean()
      .default(false)
      .describe(
        "keep a slot's installed dependencies between two builds there, removing only the packages the next one does not need (as dpb does; saves pkg_add on slow hosts). Default: every build starts from an empty prefix, as pbulk and bob do",
      ),
    batchStages: z
      .boolean()
      .default(true)
      .describe(
        "run a package's consecutive make stages (fetch to Package, Clean and Vars) as one agent task on the host, each stage still its own make run with its own log, status and time: a round trip per stage less on slow hosts. false: one task per stage",
      ),
    transferAware: z
      .boolean()
      .default(true)
      .describe(
        "placement counts what starting a package on a host costs: the dependency packages it lacks over that host's measured link, their installs, a joining host's sync. false: work and speed only (for comparison)",
      ),
    sharedPackages: z
      .boolean()
      .default(false)
      .describe("hosts share the master's packages directory (NFS): no transfers"),
    distfiles: z
      .enum(["master", "host", "shared"])
      .default("master")
      .describe(
        "where distfiles come from: master (fetched and verified once by the master, shipped to the hosts: hosts need no network), host (each host fetches), shared (an NFS DISTDIR named in the hosts' mk.conf)",
      ),
    distdir: z
      .string()
      .default("")
      .describe("the master's distfile cache (distfiles: master); empty: WORK/distfiles"),
    hostDistdirBytes: z
      .number()
      .int()
      .min(0)
      .default(10 * 1024 ** 3)
      .describe(
        "bytes a host's DISTDIR may hold of what herd sent it (distfiles: master); least recently used files are removed beyond it; 0: no bound",
      ),
    fetchJobs: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe("downloads the master runs at once (distfiles: master)"),
    excluded: z.array(z.string()).default([]).describe("PKGPATHs or PKGNAMEs never to build"),
    policy: z.enum(POLICY_NAMES).default("herd").describe("scheduling policy"),
    localbase: z
      .string()
      .default("")
      .describe(
        "LOCALBASE on the hosts (a bootstrap's prefix, compiled into its tools); empty: each host's ROOT/pkg",
      ),
    pkgDbDir: z
      .string()
      .default("")
      .describe(
        "PKG_DBDIR on the hosts; empty: LOCALBASE/.pkgdb, or with localbase set, what the bootstrap's mk.conf says",
      ),
    bootstrapKit: z
      .string()
      .default("")
      .describe(
        "tar file on the master of a pristine bootstrap prefix: shipped to each host, it refills LOCALBASE when the host connects and at every Init",
      ),
    sandbox: z
      .enum(SANDBOX_KINDS)
      .default("none")
      .describe(
        "local hosts: run each agent in its own mount namespace (unshare or bwrap) where localbase is the host's own ROOT/pkg",
      ),
    pkgInfo: z
      .string()
      .default("")
      .describe(
        "pkg_info on the master that writes pkg_summary (pkg_info -X); empty: herd writes the records itself",
      ),
    publish: z
      .object({
        destination: z
          .string()
          .min(1)
          .describe("rsync destination: a path or [user@]host:path (over ssh)"),
        retries: z.number().int().min(0).default(3).describe("retries of a failed upload"),
      })
      .strict()
      .optional()
      .describe(
        "upload the repository (without RESTRICTED/NO_BIN_ON_FTP packages) and the report when the build ends",
      ),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/** The defaults, as a config file would spell them. */
export function defaultConfig(): Config {
  return ConfigSchema.parse({});
}

/** Reads and validates a JSON config file; errors name the file and the offending key (and line for syntax errors). */
export function loadConfig(path: string | undefined): Config {
  if (path === undefined) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(
      "config",
      `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      "check the --config path",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    // "Unexpected end of JSON input" has no position: the error is at the last line.
    const at =
      m === null
        ? /end of JSON input/.test((e as Error).message)
          ? text.trimEnd().length
          : -1
        : Number(m[1]);
    const line = at < 0 ? "?" : String(text.slice(0, at).split("\n").length);
    throw new UserError(
      "config",
      `${path}:${line}: not valid JSON (${(e as Error).message})`,
      "the config file is JSON; see the README for the keys",
    );
  }
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = issue.path.join(".");
    // A misspelt key: name the one it probably is.
    const typo =
      issue.code === "unrecognized_keys" && issue.path.length === 0
        ? issue.keys
            .map((k) => [k, closest(k, Object.keys(ConfigSchema.shape))] as const)
            .find(([, c]) => c !== undefined)
        : undefined;
    throw new UserError(
      "config",
      `${path}: ${key === "" ? "" : `${key}: `}${issue.message}`,
      typo === undefined
        ? "see the README's Configuration section for the keys and their types"
        : `did you mean "${typo[1]!}" instead of "${typo[0]}"? (the README's Configuration section lists the keys)`,
    );
  }
  const prefix = checkPrefix(r.data);
  if (prefix !== undefined)
    throw new UserError(
      "config",
      `${path}: ${prefix}`,
      "see the README's Configuration section (bootstrap prefixes)",
    );
  const bad = checkTargets(r.data.targets);
  if (bad !== undefined)
    throw new UserError(
      "config",
      `${path}: targets: ${bad}`,
      "the default TARGETS are listed in the README",
    );
  return r.data;
}

/** Checks the prefix keys: Init empties LOCALBASE, so it must be a real, deep enough path. */
export function checkPrefix(c: Config): string | undefined {
  const deep = (p: string): boolean =>
    isAbsolute(p) &&
    normalize(p) === p.replace(/\/+$/, "") &&
    p.split("/").filter(Boolean).length >= 2;
  if (c.localbase !== "" && !deep(c.localbase))
    return `localbase: "${c.localbase}" must be an absolute, normalised path at least two levels deep (Init empties it)`;
  if (c.pkgDbDir !== "" && !deep(c.pkgDbDir))
    return `pkgDbDir: "${c.pkgDbDir}" must be an absolute, normalised path at least two levels deep`;
  if (c.localbase === "" && (c.bootstrapKit !== "" || c.sandbox !== "none"))
    return `${c.bootstrapKit !== "" ? "bootstrapKit" : "sandbox"} needs localbase (the bootstrap's prefix)`;
  if (c.sandbox !== "none" && c.pkgDbDir !== "" && !c.pkgDbDir.startsWith(`${c.localbase}/`))
    return "pkgDbDir must lie under localbase with a sandbox (only localbase is private to a host)";
  return undefined;
}
