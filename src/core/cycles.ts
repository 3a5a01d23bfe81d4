/**
 * Dependency cycles as data: the strongly connected components of the
 * dependency graph that contain a cycle (Tarjan's algorithm, iterative so a
 * 30,000-node chain cannot overflow the stack).
 */

/** Returns each cycle as the node indices on it, in a dependency order. */
export function findCycles(edges: readonly (readonly number[])[]): number[][] {
  const n = edges.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const cycles: number[][] = [];
  let counter = 0;
  const work: { v: number; e: number }[] = [];

  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    work.push({ v: root, e: 0 });
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const out = edges[top.v]!;
      if (top.e < out.length) {
        const w = out[top.e++]!;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          work.push({ v: w, e: 0 });
        } else if (onStack[w] === 1) {
          low[top.v] = Math.min(low[top.v]!, index[w]!);
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low[parent.v] = Math.min(low[parent.v]!, low[top.v]!);
      if (low[top.v] === index[top.v]) {
        const scc: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          scc.push(w);
        } while (w !== top.v);
        if (scc.length > 1 || out.includes(top.v)) cycles.push(scc.reverse());
      }
    }
  }
  return cycles;
}
