import { toHex } from '../crypto/hash.ts';
import type { Dag } from '../log/dag.ts';

// Set reconciliation of two causal logs, the git way: the puller names the peer's heads it
// lacks ("want") and offers a short list of entries it holds ("have": its heads plus entries
// at exponentially spaced positions back in its arrival order). Because a node holds the
// whole causal past of every entry it holds, "have" stands for the union of their pasts.
// The responder walks back from "want" and from the "have" entries it knows at the same
// time, highest causal height first, and stops when every open "want" branch has reached
// something known. Work and output are proportional to the difference (plus the width of
// the log over the heights it spans), not to the log size.

// Max-heap of (priority, id).
class Heap {
  private p: number[] = [];
  private v: string[] = [];
  get size(): number {
    return this.p.length;
  }
  push(prio: number, id: string): void {
    const p = this.p;
    const v = this.v;
    let i = p.length;
    p.push(prio);
    v.push(id);
    while (i > 0) {
      const j = (i - 1) >> 1;
      if (p[j] >= prio) break;
      p[i] = p[j];
      v[i] = v[j];
      i = j;
    }
    p[i] = prio;
    v[i] = id;
  }
  pop(): [number, string] {
    const p = this.p;
    const v = this.v;
    const top: [number, string] = [p[0], v[0]];
    const lp = p.pop()!;
    const lv = v.pop()!;
    const n = p.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && p[r] > p[l] ? r : l;
        if (p[c] <= lp) break;
        p[i] = p[c];
        v[i] = v[c];
        i = c;
      }
      p[i] = lp;
      v[i] = lv;
    }
    return top;
  }
}

export interface DiffResult {
  ids: string[]; // deps first
  visited: number; // nodes touched by the walk (work done)
}

// Entries in past(want) minus past(have), in an order where every entry follows its deps.
// `want` and `have` ids the dag does not hold are ignored. `limit` bounds the output.
export function computeDiff(dag: Dag, want: string[], have: string[], limit = Infinity): DiffResult {
  const heap = new Heap();
  const known = new Set<string>();
  const queued = new Set<string>();
  let visited = 0;
  for (const h of have) {
    const n = dag.get(h);
    if (n && !known.has(h)) {
      known.add(h);
      heap.push(n.height * 2 + 1, h);
    }
  }
  let open = 0; // want-side nodes in the heap
  for (const w of want) {
    const n = dag.get(w);
    if (n && !queued.has(w)) {
      queued.add(w);
      heap.push(n.height * 2, w);
      open++;
    }
  }
  if (known.size === 0 && open > 0 && open >= dag.heads.size && want.every((w) => dag.heads.has(w) || !dag.has(w))) {
    // The puller holds nothing we know and wants all our heads: the whole log, in stored order.
    const ids: string[] = [];
    for (const n of dag.ordered()) {
      if (ids.length >= limit) break;
      ids.push(n.entry.idHex);
    }
    return { ids, visited: ids.length };
  }
  const out: string[] = [];
  while (open > 0 && heap.size > 0) {
    const [prio, id] = heap.pop();
    visited++;
    const isKnown = (prio & 1) === 1;
    const node = dag.get(id)!;
    if (isKnown) {
      for (const d of node.entry.deps) {
        const h = toHex(d);
        if (known.has(h)) continue;
        known.add(h);
        heap.push(dag.get(h)!.height * 2 + 1, h);
      }
      continue;
    }
    open--;
    if (known.has(id)) continue;
    out.push(id);
    if (out.length >= limit) break;
    for (const d of node.entry.deps) {
      const h = toHex(d);
      if (queued.has(h) || known.has(h)) continue;
      queued.add(h);
      heap.push(dag.get(h)!.height * 2, h);
      open++;
    }
  }
  out.reverse(); // popped highest first; reversed, every entry follows its deps
  return { ids: out, visited };
}

// Arrival-ordered index of applied entries, for "have" samples in O(log n).
export class ArrivalIndex {
  ids: string[] = [];
  private dag: Dag;
  constructor(dag: Dag) {
    this.dag = dag;
    this.rebuild();
  }
  private rebuild(): void {
    this.ids = [];
    for (const n of this.dag.ordered()) this.ids.push(n.entry.idHex);
  }
  // Call with newly applied entries in the order they were applied (Filesystem 'entries').
  added(idHexes: string[]): void {
    for (const id of idHexes) this.ids.push(id);
    if (this.ids.length !== this.dag.size) this.rebuild();
  }
  // Heads plus entries 1, 2, 4, 8, ... positions back from the newest arrival, and the oldest.
  summary(maxHeads = 256): string[] {
    if (this.ids.length !== this.dag.size) this.rebuild();
    const out = new Set<string>();
    for (const h of this.dag.heads) {
      if (out.size >= maxHeads) break;
      out.add(h);
    }
    const n = this.ids.length;
    for (let step = 1; step <= n; step *= 2) out.add(this.ids[n - step]);
    if (n > 0) out.add(this.ids[0]);
    return [...out];
  }
}
