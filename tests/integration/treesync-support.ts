/** Trees for the tree sync tests. */
import { sampleTree, writeTree } from "./tree-support.js";

/** sampleTree plus bulk and odd names, so that one file is a small part of the tree. */
export function biggerTree(root: string): void {
  sampleTree(root);
  const files: Record<string, string> = {};
  for (let i = 0; i < 100; i++)
    files[`cat${i % 5}/pkg${i}/Makefile`] = `# package ${i}\n${"x".repeat(4000)}\n`;
  writeTree(root, {
    ...files,
    "odd/a b/-dash": "dash\n",
    "odd/back\\slash%s%n": "printf\n",
    "odd/new\nline": "newline\n",
    "odd/quote'\"": "quotes\n",
  });
}
