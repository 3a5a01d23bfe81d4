/**
 * Vetting what comes back from a build host: a received binary package must
 * be a pkgsrc package of the expected PKGNAME that unpacks inside its
 * directory; a failed stage's log is boiled down to one line for the report.
 */
import { readTar, unsafeMember } from "./tar.js";

/** Why a received binary package is not acceptable (not a package, escapes its directory, another PKGNAME). */
export function vetPackage(data: Buffer, pkgname: string): string | undefined {
  const tar = readTar(data);
  if (!tar.ok) return tar.message;
  const unsafe = unsafeMember(tar.entries);
  if (unsafe !== undefined) return unsafe;
  const contents = tar.entries.find((e) => e.name === "+CONTENTS" && e.type === "file");
  if (contents === undefined) return "no +CONTENTS: not a pkgsrc binary package";
  const name = /^@name (.*)$/m.exec(contents.data.toString("utf8"))?.[1]?.trim();
  if (name !== pkgname) return `it is ${name ?? "unnamed"}, not ${pkgname}`;
  return undefined;
}

/** A one-line reason from a failed stage: the last error line of its log, else its last line. */
export function failureReason(stage: string, status: number, output: Buffer): string {
  const lines = output
    .toString("utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter(
      (l) =>
        l !== "" &&
        // make's own bookkeeping, and summaries that name no cause ("1 error", collect2's).
        !/^\*\*\* (\[[^\]]*\] )?Error code|^Stop\.?$|^\*\*\* Stop|^b?make(\[\d+\])?: stopped in |^\d+ errors?$|^collect2: error: ld returned/.test(
          l,
        ),
    );
  const last = (re: RegExp): string | undefined => [...lines].reverse().find((l) => re.test(l));
  const pick =
    last(/\berror\b|undefined reference/i) ??
    last(/fatal|cannot|not found|failed/i) ??
    lines.at(-1) ??
    "";
  return `${stage} failed (exit ${status})${pick === "" ? "" : `: ${pick.slice(0, 200)}`}`;
}
