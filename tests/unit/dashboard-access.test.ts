/**
 * The dashboard's address and token rules, and SSE framing: pure functions,
 * no server.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkAccess, presentedToken, sameToken, validToken } from "../../src/dashboard/access.js";
import { hostOfHeader, isLoopback, parseAddress, urlFor } from "../../src/dashboard/address.js";
import { parseSse, sseComment, sseMessage, sseRetry } from "../../src/dashboard/sse.js";
import { dashboardAccess } from "../../src/dashboard/start.js";

const TOKEN = "0123456789abcdefXYZ";

describe("dashboard address", () => {
  it("parses PORT, HOST, HOST:PORT and [V6]:PORT, defaulting to 127.0.0.1 on a free port", () => {
    const cases: [string | undefined, string, number][] = [
      [undefined, "127.0.0.1", 0],
      ["", "127.0.0.1", 0],
      ["8080", "127.0.0.1", 8080],
      [":8080", "127.0.0.1", 8080],
      ["0.0.0.0:9000", "0.0.0.0", 9000],
      ["localhost", "localhost", 0],
      ["build.example.org:80", "build.example.org", 80],
      ["[::1]:8080", "::1", 8080],
      ["[::]", "::", 0],
    ];
    for (const [text, host, port] of cases) {
      const r = parseAddress(text);
      assert.ok(r.ok, String(text));
      assert.deepEqual(r.value, { host, port }, String(text));
    }
    for (const bad of ["::1:8080", "host:99999", "host:x", "a b:1", "http://x:1"])
      assert.equal(parseAddress(bad).ok, false, bad);
  });

  it("knows loopback addresses", () => {
    for (const h of [
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "[::1]",
      "localhost",
      "LOCALHOST",
      "a.localhost",
    ])
      assert.equal(isLoopback(h), true, h);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.org", "127.example.org"])
      assert.equal(isLoopback(h), false, h);
    assert.equal(hostOfHeader("[::1]:8080"), "::1");
    assert.equal(hostOfHeader("127.0.0.1:80"), "127.0.0.1");
    assert.equal(hostOfHeader("localhost"), "localhost");
  });

  it("prints URLs with the token, IPv6 in brackets", () => {
    assert.equal(urlFor("127.0.0.1", 80, null), "http://127.0.0.1:80/");
    assert.equal(urlFor("::1", 80, "a+b"), "http://[::1]:80/?token=a%2Bb");
  });
});

describe("dashboard token rules", () => {
  it("needs no token on loopback, generates one off loopback, takes a given one", () => {
    const lo = dashboardAccess(undefined, undefined);
    assert.ok(lo.ok);
    assert.deepEqual(lo.value.policy, { token: null, requireToken: false });
    const wide = dashboardAccess("0.0.0.0:0", undefined);
    assert.ok(wide.ok);
    assert.equal(wide.value.policy.requireToken, true);
    assert.ok((wide.value.policy.token ?? "").length >= 16, "a generated token");
    assert.notEqual(dashboardAccess("0.0.0.0:0", undefined).ok && wide.value.policy.token, null);
    const given = dashboardAccess("10.1.2.3:8080", TOKEN);
    assert.ok(given.ok);
    assert.deepEqual(given.value.policy, { token: TOKEN, requireToken: true });
    const loGiven = dashboardAccess("8080", TOKEN);
    assert.ok(loGiven.ok);
    assert.deepEqual(loGiven.value.policy, { token: TOKEN, requireToken: false });
    assert.equal(dashboardAccess("0.0.0.0", "short").ok, false);
    assert.equal(validToken("has a space in it, long enough").ok, false);
  });

  it("reads the token from Authorization: Bearer or ?token=", () => {
    assert.equal(
      presentedToken({ headers: { authorization: `Bearer ${TOKEN}` }, url: "/" }),
      TOKEN,
    );
    assert.equal(presentedToken({ headers: {}, url: `/events?token=${TOKEN}` }), TOKEN);
    assert.equal(presentedToken({ headers: {}, url: "/events?token=" }), null);
    assert.equal(presentedToken({ headers: { authorization: "Basic abc" }, url: "/" }), null);
    assert.equal(sameToken(TOKEN, TOKEN), true);
    assert.equal(sameToken(TOKEN.slice(1), TOKEN), false);
  });

  const LOCAL = "127.0.0.1:8080";

  it("on loopback without a token: reads open, controls refused (read-only), other Host headers refused", () => {
    const p = { token: null, requireToken: false };
    assert.deepEqual(checkAccess(p, { method: "GET", host: LOCAL, token: null }), {
      ok: true,
      value: { controls: false },
    });
    assert.deepEqual(checkAccess(p, { method: "GET", host: "localhost:1", token: null }).ok, true);
    const post = checkAccess(p, { method: "POST", host: LOCAL, token: null });
    assert.ok(!post.ok);
    assert.equal(post.error.status, 403);
    assert.match(post.error.message, /read-only/);
    // DNS rebinding: a foreign name resolving to 127.0.0.1.
    const rebound = checkAccess(p, { method: "GET", host: "evil.example:8080", token: null });
    assert.ok(!rebound.ok);
    assert.equal(rebound.error.status, 403);
    assert.equal(checkAccess(p, { method: "GET", host: undefined, token: null }).ok, false);
    // A token from an old URL is ignored: reading works, controls stay off.
    assert.deepEqual(checkAccess(p, { method: "GET", host: LOCAL, token: TOKEN }), {
      ok: true,
      value: { controls: false },
    });
    const anyToken = checkAccess(p, { method: "POST", host: LOCAL, token: TOKEN });
    assert.ok(!anyToken.ok);
    assert.equal(anyToken.error.status, 403);
  });

  it("on loopback with a token: reads open, controls need the token", () => {
    const p = { token: TOKEN, requireToken: false };
    assert.equal(checkAccess(p, { method: "GET", host: LOCAL, token: null }).ok, true);
    const post = checkAccess(p, { method: "POST", host: LOCAL, token: null });
    assert.ok(!post.ok);
    assert.equal(post.error.status, 401);
    assert.deepEqual(checkAccess(p, { method: "POST", host: LOCAL, token: TOKEN }), {
      ok: true,
      value: { controls: true },
    });
    const wrong = checkAccess(p, { method: "GET", host: LOCAL, token: `${TOKEN}x` });
    assert.ok(!wrong.ok);
    assert.equal(wrong.error.status, 401);
  });

  it("off loopback: every request without the right token gets 401, whatever its Host", () => {
    const p = { token: TOKEN, requireToken: true };
    for (const method of ["GET", "POST"]) {
      for (const token of [null, "x".repeat(19)]) {
        const r = checkAccess(p, { method, host: "build.example.org:8080", token });
        assert.ok(!r.ok);
        assert.equal(r.error.status, 401, `${method} ${String(token)}`);
      }
      const r = checkAccess(p, { method, host: "build.example.org:8080", token: TOKEN });
      assert.deepEqual(r, { ok: true, value: { controls: true } });
    }
  });
});

describe("SSE framing", () => {
  it("frames an event with one data line per payload line and a blank line at the end", () => {
    assert.equal(sseMessage("update", '{"a":1}'), 'event: update\ndata: {"a":1}\n\n');
    assert.equal(
      sseMessage("x", "one\ntwo\r\nthree\rfour"),
      "event: x\ndata: one\ndata: two\ndata: three\ndata: four\n\n",
    );
    assert.equal(sseMessage("x", "", "7"), "id: 7\nevent: x\ndata: \n\n");
    assert.equal(sseComment("keep\nalive"), ": keep alive\n\n");
    assert.equal(sseRetry(3000), "retry: 3000\n\n");
    assert.throws(() => sseMessage("bad name\ndata: injected", "x"));
    assert.throws(() => sseMessage("x", "y", "1\n2"));
  });

  it("round-trips through an EventSource-style parser, comments ignored", () => {
    const payloads = [
      "plain",
      "two\nlines",
      ' {"pkg":"<b>x</b>"} ',
      "data: looks like a field",
      "",
    ];
    const stream =
      sseRetry(10) +
      payloads.map((p, i) => sseMessage(`e${i}`, p)).join(sseComment("ping")) +
      sseComment("bye");
    const got = parseSse(stream);
    assert.deepEqual(
      got.map((m) => [m.event, m.data]),
      payloads.map((p, i) => [`e${i}`, p]),
    );
  });
});
