import type { Entry } from './entry.ts';

// Constant-time causal order (a <= b: a is b or lies in b's causal past) for the view and the
// authority rules, without walking the DAG.
//
// Every entry that may ever be valid ("tracked": its author is the bootstrap key or holds a
// grant in the entry's causal past) is placed on a chain: a linear sequence of entries in
// which each entry has the previous one in its causal past (any authors). Each entry keeps a
// vector clock `vc`: for each chain, the highest position on that chain within its causal
// past. Then a <= b  <=>  b.vc[a.chain] >= a.pos (b.pos >= a.pos on the same chain), exact
// and O(1). A linear log is one chain; concurrent branches need one chain each while open.
//
// The chain layout depends on arrival order; it is only used to answer "a <= b", whose answer
// does not, so every node computes the same view. Entries that can never be valid (keys with
// no grant in their past) get no chain: they only pass clocks on. Past MAX_CHAINS chains new
// entries stay untracked and fall back to a walk bounded by height (correct, slower); the cap
// bounds memory at O(entries x MAX_CHAINS) for pathological logs.
export const MAX_CHAINS = 128;

export interface CNode {
  idx: number; // local processing index (a topological order)
  entry: Entry;
  height: number;
  deps: CNode[];
  vc: number[]; // chain -> highest position in the causal past (own chain's slot: see pos); shared when equal
  chain: number; // -1 when untracked
  pos: number;
}

const EMPTY: number[] = [];

function maxOf(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = i < a.length ? a[i] : -1;
    const y = i < b.length ? b[i] : -1;
    out[i] = x > y ? x : y;
  }
  return out;
}

export class CausalIndex {
  static defaultMaxChains = MAX_CHAINS; // tests lower it to exercise the fallback
  private tips: number[] = []; // chain -> position of its last entry
  maxChains = CausalIndex.defaultMaxChains;
  walks = 0; // fallback walks done (for tests and stats)

  get chainCount(): number {
    return this.tips.length;
  }

  // Position of chain c in the causal past of d (d included).
  private at(d: CNode, c: number): number {
    if (d.chain === c) return d.pos;
    return c < d.vc.length ? d.vc[c] : -1;
  }

  // The element-wise max of the deps' full clocks (a dep's own slot raised to its position).
  // Shares a dep's array when nothing needs raising.
  private mergeFull(deps: CNode[]): number[] {
    let r = EMPTY;
    let owned = false;
    for (const d of deps) {
      const v = d.vc;
      if (r === EMPTY && !owned) r = v;
      else if (v !== r) {
        for (let i = 0; i < v.length; i++) {
          if (v[i] > (i < r.length ? r[i] : -1)) {
            if (!owned) {
              r = maxOf(r, EMPTY);
              owned = true;
            }
            while (r.length <= i) r.push(-1);
            r[i] = v[i];
          }
        }
      }
      const c = d.chain;
      if (c >= 0 && (c < r.length ? r[c] : -1) < d.pos) {
        if (!owned) {
          r = maxOf(r, EMPTY);
          owned = true;
        }
        while (r.length <= c) r.push(-1);
        r[c] = d.pos;
      }
    }
    return r;
  }

  // Sets n's chain, position and clock; its deps are placed already. A tracked entry extends
  // a chain whose last entry it has seen — preferably one of its deps, else any (this reuses
  // the chains of finished branches) — and starts a new chain only when every chain it has
  // seen was extended concurrently. So the number of chains stays near the DAG's width (the
  // number of branches open at once), whatever the number of writers.
  place(n: CNode, _authorHex: string, tracked: boolean): void {
    const deps = n.deps;
    n.chain = -1;
    n.pos = -1;
    let chain = -1;
    if (tracked) {
      for (const d of deps) {
        if (d.chain >= 0 && this.tips[d.chain] === d.pos) {
          chain = d.chain;
          break;
        }
      }
      if (chain < 0) {
        for (let c = 0; c < this.tips.length && chain < 0; c++) {
          for (const d of deps) {
            if (this.at(d, c) === this.tips[c]) {
              chain = c;
              break;
            }
          }
        }
      }
      if (chain < 0 && this.tips.length < this.maxChains) {
        chain = this.tips.length;
        this.tips.push(-1);
      }
    }
    if (chain >= 0) {
      const pos = this.tips[chain] + 1;
      this.tips[chain] = pos;
      n.chain = chain;
      n.pos = pos;
      // The own slot of a clock is never read (le uses pos), so a single dep on the same chain
      // can share its array.
      n.vc = deps.length === 1 && deps[0].chain === chain ? deps[0].vc : this.mergeFull(deps);
    } else n.vc = this.mergeFull(deps);
  }

  // a <= b
  le(a: CNode, b: CNode): boolean {
    if (a === b) return true;
    if (a.height >= b.height) return false;
    const c = a.chain;
    if (c >= 0) {
      if (b.chain === c) return b.pos >= a.pos;
      return (c < b.vc.length ? b.vc[c] : -1) >= a.pos;
    }
    return this.walk(a, b);
  }

  // a <= some dep of n (for an entry not placed yet).
  beforeAny(a: CNode, deps: CNode[]): boolean {
    for (const d of deps) if (this.le(a, d)) return true;
    return false;
  }

  private walk(a: CNode, b: CNode): boolean {
    this.walks++;
    const seen = new Set<CNode>([b]);
    const stack = [b];
    while (stack.length) {
      const n = stack.pop()!;
      for (const d of n.deps) {
        if (d === a) return true;
        if (d.height <= a.height || seen.has(d)) continue;
        seen.add(d);
        stack.push(d);
      }
    }
    return false;
  }
}
