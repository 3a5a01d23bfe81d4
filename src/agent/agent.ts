/**
 * The shell agent as the master ships it: the script text and the one-line
 * bootstrap a host's shell runs to receive it.
 */
import { readFileSync } from "node:fs";
import { SCRIPT_END_MARKER } from "../protocol/messages.js";

let cached: string | undefined;

/** The agent script (src/agent/agent.sh), read once. */
export function agentScript(): string {
  if (cached === undefined) {
    // Compiled code lives in dist/src/agent/; the script ships as src/agent/agent.sh.
    const url = new URL("../../../src/agent/agent.sh", import.meta.url);
    const text = readFileSync(url, "utf8");
    if (text.split("\n").includes(SCRIPT_END_MARKER))
      throw new Error("bug: agent script contains the end marker");
    cached = text.endsWith("\n") ? text : text + "\n";
  }
  return cached;
}

/** Quotes a word for POSIX sh (and csh: no newline, no `!` history in -c). */
export function shQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=+@%-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A one-line sh program for `sh -c PROGRAM herd-agent ROOT`: reads the agent
 * script from stdin up to the end marker (the `read` builtin never reads past
 * a newline, so nothing after the marker is consumed), stores it under ROOT
 * and execs `shell` on it. A script cut short is never run.
 */
export function bootstrapProgram(shell: readonly string[]): string {
  if (shell.length === 0) throw new Error("bug: empty shell command");
  const sh = shell.map(shQuote).join(" ");
  return [
    `r=\${1:-.}`,
    `mkdir -p "$r" || exit 111`,
    `d=$r/.herd-agent.$$.sh`,
    `m=`,
    `while IFS= read -r l; do if [ "$l" = "${SCRIPT_END_MARKER}" ]; then m=1; break; fi; printf "%s\\n" "$l"; done >"$d" || exit 111`,
    `[ -n "$m" ] || { rm -f "$d"; exit 111; }`,
    `exec ${sh} "$d" "$@"`,
  ].join("; ");
}

/** What the master writes first on a fresh link: the script and its end marker. */
export function scriptTransmission(): string {
  return agentScript() + SCRIPT_END_MARKER + "\n";
}
