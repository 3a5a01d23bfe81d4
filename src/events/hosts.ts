/**
 * The pool's host events as build events: the one translation the build
 * and `herd scan` share (state: the host's state kind; detail: why it was
 * lost or gone, or a note).
 */
import type { HostPool, PoolEvent } from "../hosts/pool.js";
import type { BuildEvent, EventBus } from "./types.js";

export interface HostEventOptions {
  /**
   * Tell idle ⇄ busy, which flips with every task: the scan shows so which
   * host scans; a build leaves it out, its package events tell that story.
   */
  readonly busy: boolean;
}

/** The build event of a pool event (null: not told). */
export function hostEvent(e: PoolEvent, o: HostEventOptions): BuildEvent | null {
  if (e.type === "note") return { type: "host", host: e.host, state: "note", detail: e.message };
  const working = (k: string): boolean => k === "idle" || k === "busy";
  if (!o.busy && working(e.from.kind) && working(e.to.kind)) return null;
  return {
    type: "host",
    host: e.host,
    state: e.to.kind,
    ...("reason" in e.to ? { detail: e.to.reason } : {}),
  };
}

/** Emits the pool's host events on the bus; returns the unsubscribe function. */
export function forwardHostEvents(pool: HostPool, bus: EventBus, o: HostEventOptions): () => void {
  return pool.subscribe((pe) => {
    const e = hostEvent(pe, o);
    if (e !== null) bus.emit(e);
  });
}
