import type { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { readTreeId, stampTree, TREE_ID_FILE } from "../hosts/treesync/treesync.js";
import { UserError } from "./errors.js";

function treeDir(dir: string): string {
  const tree = resolve(dir);
  if (!existsSync(tree) || !statSync(tree).isDirectory())
    throw new UserError(
      "tree",
      `${tree} is not a directory`,
      "pass the top of a pkgsrc tree with --tree",
    );
  return tree;
}

/** `herd tree stamp|id`: the tree id that gates syncing hosts. */
export function registerTree(program: Command): void {
  const tree = program
    .command("tree")
    .description("the pkgsrc tree's id, which decides whether hosts sync");
  tree
    .command("stamp")
    .description(
      `write a fresh uuid to ${TREE_ID_FILE} at the tree root (run after every update of the tree)`,
    )
    .requiredOption("-t, --tree <dir>", "the pkgsrc tree")
    .action((opts: { tree: string }) => {
      process.stdout.write(`${stampTree(treeDir(opts.tree))}\n`);
    });
  tree
    .command("id")
    .description("print the tree's current id")
    .requiredOption("-t, --tree <dir>", "the pkgsrc tree")
    .action((opts: { tree: string }) => {
      const id = readTreeId(treeDir(opts.tree));
      if (id === null)
        throw new UserError(
          "tree",
          `${opts.tree} has no ${TREE_ID_FILE}`,
          `run: herd tree stamp --tree ${opts.tree}`,
        );
      process.stdout.write(`${id}\n`);
    });
}
