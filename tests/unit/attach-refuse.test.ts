import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { test } from "node:test";
import { AttachServer } from "../../src/hosts/attach.js";

/** What the attach service answers a host dialling in as `name`. */
function answer(server: AttachServer, name: string): string {
  let said = "";
  const socket = {
    end: (s: string) => {
      said = s;
    },
  } as unknown as Socket;
  server.service(socket, [name], Buffer.alloc(0));
  return said;
}

test("a host dialling in under a name the master reaches otherwise is told so, with the fix", () => {
  const server = new AttachServer((n) => (n === "big" ? "local sh in /w/hosts/big" : undefined));
  assert.equal(
    answer(server, "big"),
    'refused host "big": it is not an attach host (the master reaches it as local sh in /w/hosts/big); list it as "big attach" in the hosts file to let it dial in\n',
  );
  assert.match(
    answer(server, "stranger"),
    /^refused unknown host "stranger": it is not in this master's host list/,
  );
});
