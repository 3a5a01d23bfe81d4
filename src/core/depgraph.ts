/**
 * The `dep -> dependent` edge list that bob writes for a bulk build: one edge
 * per line, package names on both sides. Blank lines and `#` comments are
 * ignored. Parsing is pure: text in, names and dependency indices out.
 */

export interface DepGraphText {
  /** Every package named on either side of an edge, in order of first appearance. */
  readonly names: readonly string[];
  /** deps[i]: indices of the packages names[i] depends on. */
  readonly deps: readonly (readonly number[])[];
  readonly edges: number;
}

export interface DepGraphError {
  readonly code: "depgraph";
  readonly line: number;
  readonly message: string;
}

export type DepGraphResult =
  | { readonly ok: true; readonly graph: DepGraphText }
  | { readonly ok: false; readonly error: DepGraphError };

const ARROW = " -> ";

/** Parses `dep -> dependent` lines; a malformed line is an error carrying its line number. */
export function parseDepGraph(text: string): DepGraphResult {
  const index = new Map<string, number>();
  const names: string[] = [];
  const deps: number[][] = [];
  const id = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = names.length;
      index.set(name, i);
      names.push(name);
      deps.push([]);
    }
    return i;
  };
  let edges = 0;
  let lineNo = 0;
  for (const raw of text.split("\n")) {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const at = trimmed.indexOf(ARROW);
    const fail = (message: string): DepGraphResult => ({
      ok: false,
      error: { code: "depgraph", line: lineNo, message },
    });
    if (at < 0)
      return fail(`expected "dependency -> dependent", got ${JSON.stringify(clip(trimmed))}`);
    const dep = trimmed.slice(0, at).trim();
    const dependent = trimmed.slice(at + ARROW.length).trim();
    if (dep === "" || dependent === "") return fail("empty package name");
    if (/\s/.test(dep) || /\s/.test(dependent) || dependent.includes(ARROW.trim())) {
      return fail(`package names must not contain blanks: ${JSON.stringify(clip(trimmed))}`);
    }
    const d = id(dep);
    deps[id(dependent)]!.push(d);
    edges++;
  }
  return { ok: true, graph: { names, deps, edges } };
}

/** True when the text looks like an edge list rather than pbulk records. */
export function looksLikeDepGraph(text: string): boolean {
  for (const raw of text.split("\n", 50)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    return line.includes(ARROW);
  }
  return false;
}

function clip(s: string): string {
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}
