import { bytesEqual, toHex } from '../crypto/hash.ts';
import { Kind, type Entry } from './entry.ts';

export interface DagNode {
  entry: Entry;
  height: number; // 0 for bootstrap, 1 + max(dep heights) otherwise
  seq: number; // local arrival order among applied entries (a topological order)
}

export type AddResult =
  | { status: 'applied'; applied: DagNode[] } // this entry and any parked entries it released
  | { status: 'duplicate' }
  | { status: 'parked'; missing: string[] } // hex ids of deps we do not hold yet
  | { status: 'rejected'; reason: string };

// The causal structure of one filesystem's log, in memory and without I/O. Entries given to
// add() must already be decoded and signature-checked. Entries whose deps are missing are
// parked (bounded) and applied, in causal order, as soon as their deps arrive.
export class Dag {
  fsId: Uint8Array | null = null;
  fsIdHex = '';
  readonly nodes = new Map<string, DagNode>();
  readonly heads = new Set<string>();
  readonly parked = new Map<string, Entry>();
  private waiting = new Map<string, Set<string>>(); // missing dep -> parked ids
  private seq = 0;
  maxParked = 100_000;

  get size(): number {
    return this.nodes.size;
  }

  has(idHex: string): boolean {
    return this.nodes.has(idHex);
  }

  get(idHex: string): DagNode | undefined {
    return this.nodes.get(idHex);
  }

  headIds(): Uint8Array[] {
    return [...this.heads].map((h) => this.nodes.get(h)!.entry.id);
  }

  missingDeps(): string[] {
    return [...this.waiting.keys()].filter((d) => !this.parked.has(d));
  }

  add(e: Entry): AddResult {
    if (this.nodes.has(e.idHex)) return { status: 'duplicate' };
    if (e.kind === Kind.BOOTSTRAP) {
      if (this.fsId) return { status: 'rejected', reason: 'second bootstrap entry for this filesystem' };
      this.fsId = e.id;
      this.fsIdHex = e.idHex;
    } else if (this.fsId && !bytesEqual(e.fsId, this.fsId)) return { status: 'rejected', reason: 'wrong filesystem id' };
    const missing: string[] = [];
    for (const d of e.deps) {
      const h = toHex(d);
      if (!this.nodes.has(h)) missing.push(h);
    }
    if (missing.length > 0) {
      if (this.parked.has(e.idHex)) return { status: 'parked', missing };
      if (this.parked.size >= this.maxParked) return { status: 'rejected', reason: `more than ${this.maxParked} entries waiting for deps` };
      this.parked.set(e.idHex, e);
      for (const m of missing) {
        let s = this.waiting.get(m);
        if (!s) this.waiting.set(m, (s = new Set()));
        s.add(e.idHex);
      }
      return { status: 'parked', missing };
    }
    const applied = [this.apply(e)];
    // Release parked entries whose deps are now all present, in causal order.
    for (let i = 0; i < applied.length; i++) {
      const id = applied[i].entry.idHex;
      const ws = this.waiting.get(id);
      if (!ws) continue;
      this.waiting.delete(id);
      for (const pid of ws) {
        const p = this.parked.get(pid);
        if (!p || this.nodes.has(pid)) continue;
        if (!bytesEqual(p.fsId, this.fsId!)) {
          this.parked.delete(pid); // parked before the bootstrap arrived, for another filesystem
          continue;
        }
        if (p.deps.every((d) => this.nodes.has(toHex(d)))) {
          this.parked.delete(pid);
          applied.push(this.apply(p));
        }
      }
    }
    return { status: 'applied', applied };
  }

  private apply(e: Entry): DagNode {
    let height = 0;
    for (const d of e.deps) {
      const h = toHex(d);
      const n = this.nodes.get(h)!;
      if (n.height + 1 > height) height = n.height + 1;
      this.heads.delete(h);
    }
    const node = { entry: e, height, seq: this.seq++ };
    this.nodes.set(e.idHex, node);
    this.heads.add(e.idHex);
    return node;
  }

  // a <= b: a is b or lies in b's causal past. Walks back from b, never below a's height.
  isAncestor(a: string, b: string): boolean {
    if (a === b) return true;
    const na = this.nodes.get(a);
    const nb = this.nodes.get(b);
    if (!na || !nb || na.height >= nb.height) return false;
    const seen = new Set<string>([b]);
    const stack = [nb];
    while (stack.length) {
      const n = stack.pop()!;
      for (const d of n.entry.deps) {
        const h = toHex(d);
        if (h === a) return true;
        if (seen.has(h)) continue;
        seen.add(h);
        const dn = this.nodes.get(h)!;
        if (dn.height > na.height) stack.push(dn);
      }
    }
    return false;
  }

  // Every entry in the causal past of `id`, itself included.
  past(id: string): Set<string> {
    const out = new Set<string>([id]);
    const stack = [id];
    while (stack.length) {
      const n = this.nodes.get(stack.pop()!)!;
      for (const d of n.entry.deps) {
        const h = toHex(d);
        if (!out.has(h)) {
          out.add(h);
          stack.push(h);
        }
      }
    }
    return out;
  }

  // Applied entries in a topological order (arrival order).
  *ordered(): Iterable<DagNode> {
    yield* this.nodes.values();
  }
}
