import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { defaultConfig, loadConfig } from "../../src/cli/config.js";
import { UserError } from "../../src/cli/errors.js";
import { multiVersionArgs } from "../../src/core/targets.js";
import { scratchDir } from "../lib/scratch.js";

const dir = scratchDir("herd-config-");

function errorOf(text: string): UserError {
  const p = join(dir, "c.json");
  writeFileSync(p, text);
  try {
    loadConfig(p);
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("config file", () => {
  it("fills in defaults", () => {
    const c = defaultConfig();
    assert.equal(c.make, "bmake");
    assert.equal(c.targets.at(-1), "Package");
    assert.equal(c.policy, "herd");
  });

  it("names the file, the line of a syntax error, and the key of a bad value", () => {
    assert.match(
      errorOf('{\n  "make": "bmake",\n  "makeJobs": 2,,\n}').message,
      /c\.json:3: not valid JSON/,
    );
    assert.match(errorOf('{"makeJobs": "four"}').message, /c\.json: makeJobs: /);
    assert.match(errorOf('{"nope": 1}').message, /c\.json: .*nope/);
    assert.match(errorOf('{"policy": "random"}').message, /c\.json: policy: /);
    assert.match(errorOf('{"targets": ["build", "build", "Package"]}').message, /appears twice/);
    assert.match(errorOf('{"targets": ["build"]}').message, /last target must be Package/);
    assert.match(
      errorOf('{"targets": ["Biuld", "Package"]}').message,
      /"Biuld" is not one of herd's stages/,
    );
    assert.match(
      errorOf('{"targets": ["rm -rf /", "Package"]}').message,
      /not a valid target name/,
    );
  });

  it("accepts only plain VAR=value words from MULTI_VERSION", () => {
    assert.deepEqual(multiVersionArgs(" PYTHON_VERSION_REQD=313 "), ["PYTHON_VERSION_REQD=313"]);
    assert.deepEqual(multiVersionArgs(undefined), []);
    assert.equal(multiVersionArgs("X=$(touch /tmp/pwned)"), undefined);
    assert.equal(multiVersionArgs(".MAKEFLAGS=-j9"), undefined);
  });
});
