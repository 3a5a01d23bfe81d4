/**
 * Who may see and steer the dashboard. On a loopback address reading is
 * open; anywhere else every request needs the token (else 401). Controls
 * (POST) always need the token, and exist only when one was set. A request
 * without the token must name a loopback host in its Host header, so a web
 * page elsewhere cannot read the dashboard through DNS rebinding.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { err, ok, type Result } from "../protocol/result.js";
import { hostOfHeader, isLoopback } from "./address.js";

export interface AccessPolicy {
  /** null: no token, the dashboard is read-only. */
  readonly token: string | null;
  /** True when bound to a non-loopback address: every request needs the token. */
  readonly requireToken: boolean;
}

export type Denial = { readonly status: 401 | 403; readonly message: string };

/** What a request may do: read, or read and use the controls. */
export type Grant = { readonly controls: boolean };

export const MIN_TOKEN_LENGTH = 16;

/** A fresh random token (144 bits, URL-safe). */
export function newToken(): string {
  return randomBytes(18).toString("base64url");
}

/** Checks a token given by the operator. */
export function validToken(token: string): Result<string, string> {
  if (token.length < MIN_TOKEN_LENGTH)
    return err(`the token must have at least ${MIN_TOKEN_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(token)) return err("the token must be printable ASCII, no spaces");
  return ok(token);
}

/** Compares in constant time, so response times do not leak the token. */
export function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token a request carries: `Authorization: Bearer T` or `?token=T`. */
export function presentedToken(req: Pick<IncomingMessage, "headers" | "url">): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m !== null) return m[1]!;
  }
  const q = new URL(req.url ?? "/", "http://x").searchParams.get("token");
  return q === null || q === "" ? null : q;
}

/** Decides a request: what it may do, or why it is refused. */
export function checkAccess(
  policy: AccessPolicy,
  req: {
    readonly method: string;
    readonly host: string | undefined;
    readonly token: string | null;
  },
): Result<Grant, Denial> {
  // Without a token of its own the dashboard ignores one presented (an old URL): it is read-only.
  if (req.token !== null && policy.token !== null) {
    if (!sameToken(req.token, policy.token)) return err({ status: 401, message: "wrong token" });
    return ok({ controls: true });
  }
  if (policy.requireToken)
    return err({ status: 401, message: "this dashboard needs its token (?token=...)" });
  if (req.host === undefined || !isLoopback(hostOfHeader(req.host)))
    return err({ status: 403, message: "unexpected Host header: open the dashboard by its URL" });
  if (req.method === "POST")
    return err(
      policy.token === null
        ? {
            status: 403,
            message: "this dashboard is read-only: start it with --token for controls",
          }
        : { status: 401, message: "controls need the token" },
    );
  return ok({ controls: false });
}
