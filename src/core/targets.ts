/**
 * The per-package targets of a bulk build, after distbb: herd's own stages
 * (capitalised) around pkgsrc's targets (lower case, run as `bmake TARGET`).
 */

export const DEFAULT_TARGETS = [
  "SyncPkgsrcTree",
  "Init",
  "Clean",
  "Available",
  "Excluded",
  "Vars",
  "Depends",
  "fetch",
  "checksum",
  "extract",
  "patch",
  "configure",
  "build",
  "Package",
] as const;

/** herd's own stages (capitalised); any other name is a pkgsrc make target. */
export const HERD_STAGES: ReadonlySet<string> = new Set(
  DEFAULT_TARGETS.filter((t) => /^[A-Z]/.test(t)),
);

/** Stages decided on the master from the plan: they never reach a host. */
export const MASTER_STAGES = new Set(["SyncPkgsrcTree", "Available", "Excluded"]);

/** Checks a TARGETS list: known stages or plain make target names, Package last. */
export function checkTargets(targets: readonly string[]): string | undefined {
  if (targets.length === 0) return "TARGETS is empty";
  for (const t of targets) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(t)) return `"${t}" is not a valid target name`;
    if (/^[A-Z]/.test(t) && !HERD_STAGES.has(t))
      return `"${t}" is not one of herd's stages (${[...HERD_STAGES].join(" ")}); pkgsrc targets are lower case`;
  }
  if (targets.at(-1) !== "Package")
    return "the last target must be Package (it brings the binary package back)";
  if (new Set(targets).size !== targets.length) return "a target appears twice";
  return undefined;
}

/** MULTI_VERSION words (`PYTHON_VERSION_REQD=313`) as make arguments; undefined if any word is unsafe. */
export function multiVersionArgs(value: string | undefined): string[] | undefined {
  const words = (value ?? "").split(/\s+/).filter((w) => w !== "");
  for (const w of words)
    if (!/^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.,+-]*$/.test(w)) return undefined;
  return words;
}
