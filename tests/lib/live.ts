/** A `herd build` running in the background, its NDJSON events read as they come. */
import { spawn } from "node:child_process";
import type { Event } from "./fixture.js";
import { CLI } from "./paths.js";

export interface Live {
  readonly events: Event[];
  /** Resolves when an event matching `pred` has arrived (the newest such event). */
  until(what: string, pred: (e: Event) => boolean): Promise<Event>;
  readonly done: Promise<number | null>;
}

/** A build running in the background with its NDJSON events as they come. */
export function liveBuild(args: readonly string[], timeoutMs = 240_000): Live {
  const child = spawn("node", [CLI, "build", ...args, "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Event[] = [];
  const waiters: (() => void)[] = [];
  let buf = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) if (l.startsWith("{")) events.push(JSON.parse(l) as Event);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<number | null>((res) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w();
      if (code !== 0) process.stderr.write(err);
      res(code);
    }),
  );
  let closed = false;
  void done.then(() => (closed = true));
  return {
    events,
    done,
    until: async (what, pred) => {
      for (;;) {
        const hit = events.findLast(pred);
        if (hit !== undefined) return hit;
        if (closed) throw new Error(`the build ended before ${what}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}
