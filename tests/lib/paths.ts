import { resolve } from "node:path";

/** The repository root (tests run from dist/tests/...). */
export const ROOT = resolve(import.meta.dirname, "../../..");
/** The shared real data next to the repository. */
export const DATA_2026 = resolve(ROOT, "../shared/data/pkgsrc-2026");
/** The compiled CLI. */
export const CLI = resolve(ROOT, "dist/src/cli/main.js");
