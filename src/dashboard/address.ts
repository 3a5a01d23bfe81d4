/**
 * Where the dashboard listens: `PORT`, `HOST`, `HOST:PORT` or `[V6]:PORT`,
 * 127.0.0.1 and a free port by default. Whether an address is loopback
 * decides whether a token is required.
 */
import { hostname } from "node:os";
import { err, ok, type Result } from "../protocol/result.js";

export interface ListenAddress {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
}

export const DEFAULT_HOST = "127.0.0.1";

/** Parses an ADDR argument; undefined or "" gives 127.0.0.1 on a free port. */
export function parseAddress(text: string | undefined): Result<ListenAddress, string> {
  const s = (text ?? "").trim();
  if (s === "") return ok({ host: DEFAULT_HOST, port: 0 });
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d*))?$/.exec(s);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2];
  } else if (/^\d+$/.test(s)) {
    host = DEFAULT_HOST;
    portText = s;
  } else if (s.split(":").length > 2) {
    return err(`${s}: write an IPv6 address in brackets, e.g. [::1]:8080`);
  } else {
    const i = s.lastIndexOf(":");
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
    if (host === "") host = DEFAULT_HOST;
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return err(`${s}: not a host name or address`);
  }
  const port = portText === undefined || portText === "" ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return err(`${s}: the port must be a number from 0 to 65535`);
  return ok({ host, port });
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (/^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host part of a Host header ("[::1]:80" → "::1", "a:1" → "a"). */
export function hostOfHeader(header: string): string {
  const v6 = /^\[([^\]]*)\]/.exec(header);
  if (v6 !== null) return v6[1]!;
  const i = header.indexOf(":");
  return i < 0 ? header : header.slice(0, i);
}

/** The URL to print for a bound address: a wildcard bind is shown with this machine's name. */
export function urlFor(host: string, port: number, token: string | null): string {
  const wildcard = host === "0.0.0.0" || host === "::" || host === "";
  const shown = wildcard ? hostname() : host;
  const h = shown.includes(":") ? `[${shown}]` : shown;
  return `http://${h}:${port}/${token === null ? "" : `?token=${encodeURIComponent(token)}`}`;
}
