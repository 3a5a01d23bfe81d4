/**
 * ssh's control sockets must fit a unix socket path whatever the work
 * directory: ssh binds DIR/HASH.RANDOM (40 + 17 characters) before renaming
 * it into place, and a path too long loses every ssh host. (Node's own
 * sockets cannot show the limit, libuv truncates long paths: the test with
 * a real ssh is in integration/ssh.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CONTROL_DIR_MAX, controlDirFor } from "../../src/hosts/remote.js";

describe("ssh control socket directory", () => {
  it("is WORK/ssh when short enough, a private temporary directory otherwise", () => {
    assert.equal(controlDirFor("/w"), "/w/ssh");
    for (let n = 1; n < 300; n += 7) {
      const work = `/${"w".repeat(n)}`;
      const dir = controlDirFor(work);
      assert.ok(Buffer.byteLength(dir) <= CONTROL_DIR_MAX, `${dir} for a work path of ${n + 1}`);
      if (n + 5 <= CONTROL_DIR_MAX) assert.equal(dir, `${work}/ssh`);
    }
  });
});
