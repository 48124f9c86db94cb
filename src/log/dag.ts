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
  | { status: 'rejected'; reason: string } // can never enter this log (bad, or no authority)
  | { status: 'full'; reason: string }; // not refused: no room to wait for its deps now

// What decides whether an entry whose deps are all present may join the log (the view's
// authority rule, injected so that this file stays free of it).
export interface DagPolicy {
  admit(e: Entry): string | null; // null: admitted; otherwise why it can never be valid
  applied(n: DagNode): void; // called for each applied node, in order, before the next admit
  proven(authorHex: string): boolean; // the author holds some grant in the log (parking priority)
}

// Parking is what a stranger can fill (authority of an entry with missing deps cannot be
// checked), so it is bounded in bytes, per author and in all, and by missing deps per entry.
export const PARK_LIMITS = {
  entries: 100_000,
  bytes: 32 * 1024 * 1024, // estimated memory of all parked entries (bytes + bookkeeping)
  authorBytes: 4 * 1024 * 1024,
  unprovenBytes: 4 * 1024 * 1024, // all entries of keys with no grant in the log (anyone can make such keys)
  sourceBytes: 8 * 1024 * 1024, // entries one peer sent (gossip or sync)
  missingDeps: 32, // an entry missing more waits for anti-entropy (which delivers in causal order)
  refusedIds: 16_384, // ids remembered as refused (their descendants are refused at once)
};
// Estimated memory of one parked entry besides its bytes (measured with heap snapshots: the
// Entry object and its field views, one view per dep, map slots; per missing dep a hex key and
// a Set entry).
const PARK_OVERHEAD = 512;
const DEP_OVERHEAD = 96;
const MISSING_OVERHEAD = 200;
const cost = (e: Entry, missing: number) => e.bytes.length + PARK_OVERHEAD + e.deps.length * DEP_OVERHEAD + missing * MISSING_OVERHEAD;

interface ParkRec {
  author: string;
  source: string; // the peer that sent it ('' for local or unattributed)
  cost: number;
  missing: string[];
}

// The causal structure of one filesystem's log, in memory and without I/O. Entries given to
// add() must already be decoded and signature-checked. Entries whose deps are missing are
// parked (bounded) and applied, in causal order, as soon as their deps arrive; with a policy,
// an entry is applied only if the policy admits it, and is otherwise refused for good.
export class Dag {
  fsId: Uint8Array | null = null;
  fsIdHex = '';
  readonly nodes = new Map<string, DagNode>();
  readonly heads = new Set<string>();
  readonly parked = new Map<string, Entry>();
  private park = new Map<string, ParkRec>();
  private waiting = new Map<string, Set<string>>(); // missing dep -> parked ids
  private authorBytes = new Map<string, number>();
  private sourceBytes = new Map<string, number>();
  private unproven = new Set<string>(); // parked ids of authors with no grant when parked (evicted first)
  private unprovenBytes = 0;
  private refusedWhy = new Map<string, string>();
  private dropped: string[] = [];
  parkedBytes = 0;
  private seq = 0;
  policy: DagPolicy | null = null;
  limits = { ...PARK_LIMITS };
  counters = { refused: 0, evicted: 0, full: 0 };

  get size(): number {
    return this.nodes.size;
  }

  // Forgets every entry (in place: the network's indexes hold this object), so that the log
  // can be loaded again from disk after an append that did not reach it. Refused ids stay:
  // refusal depends only on an entry's past.
  reset(): void {
    this.fsId = null;
    this.fsIdHex = '';
    for (const m of [this.nodes, this.heads, this.parked, this.park, this.waiting, this.authorBytes, this.sourceBytes, this.unproven]) m.clear();
    this.unprovenBytes = 0;
    this.dropped = [];
    this.parkedBytes = 0;
    this.seq = 0;
    this.policy = null;
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
    return [...this.waiting.keys()].filter((d) => !this.parked.has(d) && !this.refusedWhy.has(d));
  }

  // Why an entry was refused (while remembered), else undefined.
  refused(idHex: string): string | undefined {
    return this.refusedWhy.get(idHex);
  }

  // Parked ids dropped since the last call (refused on release, or evicted): the store
  // deletes its copies.
  takeDropped(): string[] {
    const d = this.dropped;
    this.dropped = [];
    return d;
  }

  // `source`: the peer that sent `e`, for its share of the parking space.
  add(e: Entry, source = ''): AddResult {
    if (this.nodes.has(e.idHex)) return { status: 'duplicate' };
    const was = this.refusedWhy.get(e.idHex);
    if (was !== undefined) return { status: 'rejected', reason: was };
    if (e.kind === Kind.BOOTSTRAP) {
      if (this.fsId) return { status: 'rejected', reason: 'second bootstrap entry for this filesystem' };
      this.fsId = e.id;
      this.fsIdHex = e.idHex;
    } else if (this.fsId && !bytesEqual(e.fsId, this.fsId)) return { status: 'rejected', reason: 'wrong filesystem id' };
    const missing: string[] = [];
    for (const d of e.deps) {
      const h = toHex(d);
      const bad = this.refusedWhy.get(h);
      if (bad !== undefined) return this.refuse(e.idHex, `depends on refused entry ${h.slice(0, 12)}`);
      if (!this.nodes.has(h)) missing.push(h);
    }
    if (missing.length > 0) {
      if (this.parked.has(e.idHex)) return { status: 'parked', missing };
      const full = this.makeRoom(e, missing, source);
      if (full) {
        this.counters.full++;
        return { status: 'full', reason: full };
      }
      this.parkEntry(e, missing, source);
      return { status: 'parked', missing };
    }
    const why = this.policy?.admit(e) ?? null;
    if (why !== null) return this.refuse(e.idHex, why);
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
          this.unpark(pid); // parked before the bootstrap arrived, for another filesystem
          continue;
        }
        if (p.deps.every((d) => this.nodes.has(toHex(d)))) {
          this.unpark(pid, false);
          const w = this.policy?.admit(p) ?? null;
          if (w !== null) {
            this.dropped.push(pid);
            this.refuse(pid, w);
          } else applied.push(this.apply(p));
        }
      }
    }
    return { status: 'applied', applied };
  }

  // Remembers `id` as refused, and refuses every parked entry that waits for it.
  private refuse(id: string, why: string): AddResult {
    const stack: [string, string][] = [[id, why]];
    while (stack.length) {
      const [x, w] = stack.pop()!;
      this.counters.refused++;
      this.refusedWhy.set(x, w.length > 120 ? w.slice(0, 117) + '...' : w);
      if (this.refusedWhy.size > this.limits.refusedIds) this.refusedWhy.delete(this.refusedWhy.keys().next().value!);
      const ws = this.waiting.get(x);
      if (!ws) continue;
      this.waiting.delete(x);
      for (const pid of ws) {
        if (!this.parked.has(pid)) continue;
        this.unpark(pid);
        stack.push([pid, `depends on refused entry ${x.slice(0, 12)}`]);
      }
    }
    return { status: 'rejected', reason: why };
  }

  private parkEntry(e: Entry, missing: string[], source: string): void {
    const author = toHex(e.author);
    const c = cost(e, missing.length);
    this.parked.set(e.idHex, e);
    this.park.set(e.idHex, { author, source, cost: c, missing });
    this.parkedBytes += c;
    this.authorBytes.set(author, (this.authorBytes.get(author) ?? 0) + c);
    if (source) this.sourceBytes.set(source, (this.sourceBytes.get(source) ?? 0) + c);
    if (this.policy && !this.policy.proven(author)) {
      this.unproven.add(e.idHex);
      this.unprovenBytes += c;
    }
    for (const m of missing) {
      let s = this.waiting.get(m);
      if (!s) this.waiting.set(m, (s = new Set()));
      s.add(e.idHex);
    }
  }

  // Removes a parked entry; `drop` records it for deletion from the store.
  private unpark(id: string, drop = true): void {
    const r = this.park.get(id);
    this.parked.delete(id);
    if (this.unproven.delete(id) && r) this.unprovenBytes -= r.cost;
    if (drop) this.dropped.push(id);
    if (!r) return;
    this.park.delete(id);
    this.parkedBytes -= r.cost;
    const left = (this.authorBytes.get(r.author) ?? 0) - r.cost;
    if (left > 0) this.authorBytes.set(r.author, left);
    else this.authorBytes.delete(r.author);
    if (r.source) {
      const sl = (this.sourceBytes.get(r.source) ?? 0) - r.cost;
      if (sl > 0) this.sourceBytes.set(r.source, sl);
      else this.sourceBytes.delete(r.source);
    }
    for (const m of r.missing) {
      const s = this.waiting.get(m);
      if (!s) continue;
      s.delete(id);
      if (s.size === 0) this.waiting.delete(m);
    }
  }

  // null when `e` may park (evicting parked entries of unproven authors if needed), else why not.
  private makeRoom(e: Entry, missing: string[], source: string): string | null {
    const L = this.limits;
    if (missing.length > L.missingDeps) return `${missing.length} deps missing (more than ${L.missingDeps}); anti-entropy will deliver it in order`;
    const author = toHex(e.author);
    const c = cost(e, missing.length);
    if ((this.authorBytes.get(author) ?? 0) + c > L.authorBytes) return `author's share of the parking space (${L.authorBytes} bytes) is full`;
    if (source && (this.sourceBytes.get(source) ?? 0) + c > L.sourceBytes) return `the sending peer's share of the parking space (${L.sourceBytes} bytes) is full`;
    const proven = !this.policy || this.policy.proven(author);
    // Unproven authors (anyone can make keys) share a small part, oldest out first; a proven
    // author may push out any unproven entry, never a proven one.
    const fits = () => this.parkedBytes + c <= L.bytes && this.parked.size < L.entries && (proven || this.unprovenBytes + c <= L.unprovenBytes);
    for (const id of this.unproven) {
      if (fits()) break;
      const r = this.park.get(id);
      if (r && this.policy?.proven(r.author)) {
        this.unproven.delete(id); // its author has a grant by now: keep it, counted as proven
        this.unprovenBytes -= r.cost;
        continue;
      }
      this.unpark(id);
      this.counters.evicted++;
    }
    if (!fits()) return `parking space full (${this.parked.size} entries, ${this.parkedBytes} of ${L.bytes} bytes)`;
    return null;
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
    this.policy?.applied(node);
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
