/**
 * Runs a command as a whole process and measures wall time and peak RSS
 * (VmHWM from /proc, sampled until exit), for comparing herd with other tools.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Measurement {
  readonly wallSeconds: number;
  readonly peakRssMB: number;
  readonly exitCode: number | null;
}

function hwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** Runs argv (stdout to a file or discarded) and returns its wall time and peak RSS. */
export async function measure(
  argv: readonly string[],
  stdoutFd: number | "ignore" = "ignore",
): Promise<Measurement> {
  const start = process.hrtime.bigint();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", stdoutFd, "ignore"] });
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid !== undefined) peak = Math.max(peak, hwm(child.pid));
  }, 5);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearInterval(timer);
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  return { wallSeconds: wall, peakRssMB: peak, exitCode: code };
}

/** A bench's numeric option `--NAME N`, or `dflt` when it is not given. */
export function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

/** The value at fraction `p` (0..1) of a list sorted in ascending order, by nearest rank; NaN when empty. */
export function atFraction(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The median of a list of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
