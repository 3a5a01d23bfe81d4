/**
 * What the operator sees in the terminal, from the event stream: on a TTY a
 * live status area (hosts, progress bar, counts, ETA) redrawn below the log
 * lines so the two never garble; elsewhere plain timestamped lines; with
 * --json one NDJSON event per line.
 */
import { formatCounts } from "../core/pkgstate.js";
import type { BuildEvent } from "../events/types.js";
import { ndjson } from "../events/ndjson.js";
import { printable } from "../core/records.js";

export type OutputMode = "tty" | "plain" | "json";

export interface Display {
  /** Feeds one event. */
  readonly onEvent: (e: BuildEvent, timeMs: number) => void;
  /** Clears the status area (before exiting). */
  readonly close: () => void;
}

interface HostLine {
  state: string;
  pkg: string;
  stage: string;
  since: number;
}

/** A display writing to `out` (process.stderr for humans, stdout for --json). */
export function createDisplay(
  mode: OutputMode,
  out: NodeJS.WritableStream,
  opts: { quiet?: boolean; verbose?: boolean } = {},
): Display {
  if (mode === "json") return ndjsonDisplay(out);
  const hosts = new Map<string, HostLine>();
  const joinedHosts = new Set<string>();
  let progress = { done: 0, total: 0, running: 0, eta: null as number | null, estimate: false };
  const counts = { built: 0, failed: 0, indirect: 0 };
  let fetch: { done: number; total: number; bytes: number; bytesLeft: number } | null = null;
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;

  const clear = (): void => {
    if (mode === "tty" && drawn > 0) out.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    if (mode !== "tty") return;
    clear();
    const lines: string[] = [];
    for (const [name, h] of [...hosts].sort()) {
      const secs = Math.round((Date.now() - h.since) / 1000);
      lines.push(
        `  ${name.padEnd(12)} ${h.state.padEnd(9)} ${h.pkg === "" ? "" : `${h.pkg} ${h.stage} ${secs}s`}`,
      );
    }
    const width = 30;
    const frac = progress.total === 0 ? 0 : progress.done / progress.total;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    // Without history the ETA is a guess from what finished so far: shown as one.
    const eta =
      progress.eta === null
        ? "?"
        : progress.estimate
          ? `~${formatDuration(progress.eta)} (estimate)`
          : formatDuration(progress.eta);
    lines.push(
      `  [${bar}] ${progress.done}/${progress.total}  ETA ${eta}  running ${progress.running}  built ${counts.built}  failed ${counts.failed}  indirect ${counts.indirect}`,
    );
    if (fetch !== null && fetch.done < fetch.total)
      lines.push(
        `  distfiles ${fetch.done}/${fetch.total} packages  ${mib(fetch.bytes)} fetched, ${mib(fetch.bytesLeft)} to go`,
      );
    const cols = "columns" in out && typeof out.columns === "number" ? out.columns : 100;
    out.write(lines.map((l) => l.slice(0, cols - 1)).join("\n") + "\n");
    drawn = lines.length;
  };
  const log = (timeMs: number, text: string): void => {
    if (opts.quiet === true) return;
    clear();
    const stamp = new Date(timeMs).toISOString().slice(11, 19);
    out.write(`${stamp} ${printable(text)}\n`);
    draw();
  };
  if (mode === "tty") timer = setInterval(draw, 1000).unref();

  return {
    onEvent: (e, t) => {
      switch (e.type) {
        case "build-start":
          log(t, `build ${e.build} of ${e.tree}${e.resumed ? " (resumed)" : ""}`);
          break;
        case "phase":
          log(t, `== ${e.phase}${e.detail === undefined ? "" : `: ${e.detail}`}`);
          break;
        case "host": {
          const known = hosts.get(e.host);
          const h = known ?? { state: "", pkg: "", stage: "", since: t };
          // A host is ready for work the first time it is idle: it joined.
          const joined = e.state === "idle" && !joinedHosts.has(e.host);
          if (joined) joinedHosts.add(e.host);
          h.state = e.state;
          if (e.state !== "busy") h.pkg = "";
          hosts.set(e.host, h);
          if (joined) log(t, `host ${e.host} joined`);
          else if (
            opts.verbose === true ||
            ["lost", "quarantined", "draining", "gone"].includes(e.state)
          )
            log(t, `host ${e.host}: ${e.state}${e.detail === undefined ? "" : ` (${e.detail})`}`);
          else draw();
          break;
        }
        case "scan-progress":
          progress = { ...progress, done: e.done, total: e.total };
          draw();
          break;
        case "fetch-progress":
          fetch = e;
          if (e.done === e.total)
            log(
              t,
              `distfiles fetched ahead for ${e.total} packages (${mib(e.bytes)} from the sites${e.failed > 0 ? `, ${e.failed} failed` : ""})`,
            );
          else draw();
          break;
        case "scan-error":
          log(t, `scan of ${e.pkgpath} failed on ${e.host}: ${e.message}`);
          break;
        case "plan":
          log(
            t,
            `plan: ${Object.entries(e.counts)
              .filter(([, v]) => v > 0)
              .map(([k, v]) => `${v} ${k}`)
              .join(", ")}`,
          );
          break;
        case "package-start": {
          const h = hosts.get(e.host) ?? { state: "busy", pkg: "", stage: "", since: t };
          Object.assign(h, { state: "busy", pkg: e.pkgname, stage: "", since: t });
          hosts.set(e.host, h);
          if (opts.verbose === true) log(t, `${e.host}: start ${e.pkgname}`);
          break;
        }
        case "stage": {
          const h = hosts.get(e.host);
          if (h !== undefined && h.pkg === e.pkgname) h.stage = e.stage;
          if (opts.verbose === true)
            log(
              t,
              `${e.host}: ${e.pkgname} ${e.stage} ${e.status === 0 ? "ok" : `exit ${e.status}`} (${e.wallMs} ms)`,
            );
          break;
        }
        case "package-end": {
          const h = hosts.get(e.host);
          if (h !== undefined && h.pkg === e.pkgname)
            Object.assign(h, { state: "idle", pkg: "", since: t });
          if (e.result === "built") counts.built++;
          if (e.result === "failed") counts.failed++;
          log(
            t,
            `${e.result === "built" ? "built" : e.result === "failed" ? "FAILED" : "lost"} ${e.pkgname} on ${e.host}${e.reason === undefined ? "" : `: ${e.reason}`}`,
          );
          break;
        }
        case "indirect-failed":
          counts.indirect++;
          if (opts.verbose === true)
            log(t, `indirectly failed ${e.pkgname} (because of ${e.culprit})`);
          break;
        case "progress":
          progress = {
            done: e.done,
            total: e.total,
            running: e.running,
            eta: e.etaSeconds,
            estimate: e.etaEstimate === true,
          };
          draw();
          break;
        case "build-end":
          log(t, `build ${e.build} finished: ${formatCounts(e.counts)}`);
          break;
        case "retry":
          counts.failed--;
          counts.indirect -= e.revived.length;
          log(
            t,
            `retry ${e.pkgname}${e.revived.length > 0 ? ` (and ${e.revived.length} packages that depend on it)` : ""}`,
          );
          break;
        case "warning":
          log(t, `warning: ${e.message}`);
          break;
      }
    },
    close: () => {
      if (timer !== undefined) clearInterval(timer);
      clear();
    },
  };
}

/** 3725 → "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * --json: a turn of the event loop's first line goes out at once, and the
 * lines after it in one write at the turn's end (or once 64 KiB wait), not
 * one write each: a pipe's writes are synchronous, and a round that starts a
 * hundred packages emits two hundred events before the last of its first
 * tasks is sent. Nothing is held past the turn; what waits is written at
 * close() and when the process exits.
 */
function ndjsonDisplay(out: NodeJS.WritableStream): Display {
  let lines: string[] = [];
  let size = 0;
  // Set while a turn that wrote a line is under way.
  let turn: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (lines.length === 0) return;
    const text = lines.join("");
    lines = [];
    size = 0;
    out.write(text);
  };
  const endTurn = (): void => {
    turn = undefined;
    flush();
  };
  process.once("exit", flush);
  return {
    onEvent: (e, t) => {
      const line = ndjson(e, new Date(t));
      if (turn === undefined) {
        out.write(line);
        turn = setImmediate(endTurn);
        return;
      }
      lines.push(line);
      size += line.length;
      if (size >= 65536) flush();
    },
    close: () => {
      if (turn !== undefined) clearImmediate(turn);
      turn = undefined;
      flush();
      process.off("exit", flush);
    },
  };
}
