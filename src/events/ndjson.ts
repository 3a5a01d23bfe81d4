/** One machine-readable event per line (--json). Every event has a type and a time. */
export interface HerdEvent {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** Serialises an event as one NDJSON line. */
export function ndjson(event: HerdEvent, now: Date = new Date()): string {
  return JSON.stringify({ time: now.toISOString(), ...event }) + "\n";
}
