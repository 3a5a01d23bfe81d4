/**
 * Operator controls of a running build that reach into the build loop
 * (the pool handles host controls itself): retrying a failed package.
 */
import { err, type Result } from "../protocol/result.js";

export type RetryFn = (pkgname: string) => Result<string, string>;

/** A handle the dashboard (and later the control socket) holds; the build loop plugs in while it runs. */
export class BuildControl {
  #retry: RetryFn | undefined;

  /** The build loop offers its retry while it runs; returns the function that withdraws it. */
  attach(retry: RetryFn): () => void {
    this.#retry = retry;
    return () => {
      if (this.#retry === retry) this.#retry = undefined;
    };
  }

  /** Builds a failed package again, with the dependents its failure had failed. */
  retry(pkgname: string): Result<string, string> {
    if (this.#retry === undefined) return err("no build is running in this master");
    return this.#retry(pkgname);
  }
}
