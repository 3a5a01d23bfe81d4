/**
 * What a build host holds in its shared cache (ROOT/cache): the dependency
 * packages and the bootstrap kit it was sent, kept across builds and shared
 * by all its slots. Two slots that need the same file at once share one
 * transfer: the second waits for the first instead of writing the same file
 * beside it.
 */
import type { Result } from "../protocol/result.js";

export class HostCache<F> {
  readonly #have = new Set<string>();
  readonly #sending = new Map<string, Promise<Result<string, F>>>();

  /** The host no longer has `key` (it was removed there). */
  forget(key: string): void {
    this.#have.delete(key);
  }

  /** The host has `key` (it was found there). */
  mark(key: string): void {
    this.#have.add(key);
  }

  has(key: string): boolean {
    return this.#have.has(key);
  }

  /**
   * Makes sure the host has `key`: "" when it had it, else what `send`
   * says it sent. A failed send is not remembered (the next caller tries again).
   */
  async ensure(key: string, send: () => Promise<Result<string, F>>): Promise<Result<string, F>> {
    if (this.#have.has(key)) return { ok: true, value: "" };
    let p = this.#sending.get(key);
    if (p !== undefined) {
      const r = await p;
      return r.ok ? { ok: true, value: "" } : r;
    }
    p = send();
    this.#sending.set(key, p);
    try {
      const r = await p;
      if (r.ok) this.#have.add(key);
      return r;
    } finally {
      this.#sending.delete(key);
    }
  }
}
