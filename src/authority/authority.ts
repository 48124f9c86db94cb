import { toHex } from '../crypto/hash.ts';
import { fingerprint } from '../crypto/keys.ts';
import { depth, isUnder } from '../log/path.ts';
import type { CNode } from '../log/causal.ts';

// Who may write where (docs/AUTHORITY.md). Pure and deterministic: the result is a function of
// the set of entries only, never of their arrival order.

export interface GrantRec {
  kind: 'grant';
  node: CNode | null; // null for the bootstrap key's implicit grant of '/'
  idHex: string;
  key: Uint8Array;
  keyHex: string;
  path: string;
  depth: number; // the rank this grant gives
  author: Uint8Array;
  authorHex: string;
  boot: boolean;
  valid: boolean;
  rank: number | null; // rank of the granting key when it made the grant
  why: string;
  removedBy: RevokeRec[]; // valid revokes that remove this grant
  forced: string | null;
}

export interface RevokeRec {
  kind: 'revoke';
  node: CNode;
  idHex: string;
  key: Uint8Array;
  keyHex: string;
  path: string;
  author: Uint8Array;
  authorHex: string;
  valid: boolean;
  rank: number | null;
  why: string;
  removes: GrantRec[];
  forced: string | null;
}

export type AuthRec = GrantRec | RevokeRec;

export type AuthResult = { ok: true; rank: number } | { ok: false; why: string };

export function id8(idHex: string): string {
  return idHex.slice(0, 8);
}

// Fingerprints (a SHA-256 each) of the keys named in reasons, cached: invalid entries of the
// same key repeat them.
const fpCache = new Map<string, string>();
export function fp(key: Uint8Array, keyHex?: string): string {
  const h = keyHex ?? toHex(key);
  let f = fpCache.get(h);
  if (f === undefined) {
    f = fingerprint(key);
    if (fpCache.size >= 4096) fpCache.clear();
    fpCache.set(h, f);
  }
  return f;
}

// tau: the total order in which grants and revokes are evaluated: (height, id).
function tauLess(a: AuthRec, b: AuthRec): boolean {
  const ha = a.node!.height;
  const hb = b.node!.height;
  return ha !== hb ? ha < hb : a.idHex < b.idHex;
}

export class Authority {
  bootHex = '';
  boot: GrantRec | null = null;
  readonly byKey = new Map<string, GrantRec[]>(); // subject key hex -> grants of it (and the bootstrap grant)
  readonly list: AuthRec[] = []; // grants and revokes in tau order
  readonly byId = new Map<string, AuthRec>();
  private le: (a: CNode, b: CNode) => boolean;
  passes = 0;

  constructor(le: (a: CNode, b: CNode) => boolean) {
    this.le = le;
  }

  setBootstrap(node: CNode): void {
    const e = node.entry;
    this.bootHex = toHex(e.author);
    this.boot = {
      kind: 'grant', node: null, idHex: e.idHex, key: e.author, keyHex: this.bootHex, path: '/', depth: 0,
      author: e.author, authorHex: this.bootHex, boot: true, valid: true, rank: 0, why: 'bootstrap', removedBy: [], forced: null,
    };
    this.byKey.set(this.bootHex, [this.boot]);
  }

  // True when the author of a new entry with these deps holds some grant (valid or not) in its
  // causal past: only such entries can ever be valid.
  candidate(authorHex: string, deps: CNode[]): boolean {
    if (authorHex === this.bootHex) return true;
    const gs = this.byKey.get(authorHex);
    if (!gs) return false;
    for (const g of gs) {
      if (!g.node) continue;
      for (const d of deps) if (this.le(g.node, d)) return true;
    }
    return false;
  }

  private insert(r: AuthRec): void {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tauLess(this.list[mid], r)) lo = mid + 1;
      else hi = mid;
    }
    this.list.splice(lo, 0, r);
    this.byId.set(r.idHex, r);
  }

  // Registers a GRANT by a candidate author and evaluates it. A new grant cannot change the
  // validity of anything already known (nothing known has it in its causal past), so no pass.
  addGrant(node: CNode): GrantRec {
    const e = node.entry;
    const g: GrantRec = {
      kind: 'grant', node, idHex: e.idHex, key: e.key, keyHex: toHex(e.key), path: e.path, depth: depth(e.path),
      author: e.author, authorHex: toHex(e.author), boot: false, valid: false, rank: null, why: '', removedBy: [], forced: null,
    };
    let gs = this.byKey.get(g.keyHex);
    if (!gs) this.byKey.set(g.keyHex, (gs = []));
    gs.push(g);
    this.insert(g);
    const a = this.authorize(node, g.authorHex, g.path);
    g.valid = a.ok;
    g.rank = a.ok ? a.rank : null;
    g.why = a.ok ? 'valid' : a.why;
    return g;
  }

  // Registers a REVOKE by a candidate author; the caller runs recompute() afterwards.
  addRevoke(node: CNode): RevokeRec {
    const e = node.entry;
    const r: RevokeRec = {
      kind: 'revoke', node, idHex: e.idHex, key: e.key, keyHex: toHex(e.key), path: e.path,
      author: e.author, authorHex: toHex(e.author), valid: false, rank: null, why: '', removes: [], forced: null,
    };
    this.insert(r);
    return r;
  }

  // Is the author of `node` authorized at `path` for that entry? path null: anywhere (SNAPSHOT).
  // Uses the grants' current validity and removedBy lists.
  authorize(node: CNode, authorHex: string, path: string | null): AuthResult {
    const gs = this.byKey.get(authorHex);
    let best = -1;
    let revoker: RevokeRec | null = null;
    if (gs) {
      for (const g of gs) {
        if (!g.valid || g.node === node) continue;
        if (path !== null && !isUnder(path, g.path)) continue;
        if (g.node && !this.le(g.node, node)) continue;
        let removed: RevokeRec | null = null;
        for (const r of g.removedBy) {
          if (!this.le(node, r.node)) {
            removed = r;
            break;
          }
        }
        if (removed) {
          if (!revoker || tauLess(removed, revoker)) revoker = removed;
          continue;
        }
        if (best < 0 || g.depth < best) best = g.depth;
      }
    }
    if (best >= 0) return { ok: true, rank: best };
    if (revoker) return { ok: false, why: `revoked by ${id8(revoker.idHex)}: key ${fp(revoker.key, revoker.keyHex)} lost its grant${path ? ` covering ${path}` : ''}` };
    return { ok: false, why: `unauthorized: key ${fp(node.entry.author, authorHex)} has no grant ${path === null ? 'anywhere' : `at ${path}`}` };
  }

  // Full evaluation of every grant and revoke (run when a REVOKE arrives). Returns the grants
  // whose status changed (validity or the set of revokes removing them).
  recompute(): GrantRec[] {
    this.passes++;
    const before = new Map<GrantRec, string>();
    for (const r of this.list) if (r.kind === 'grant') before.set(r, sig(r));
    const forced = new Map<AuthRec, string>();
    for (;;) {
      this.pass(forced);
      // Full check: every authority entry must also survive the revokes evaluated after it
      // (e.g. a grant made by a key concurrently with that key's revocation).
      const failing = new Map<AuthRec, { why: string; by: RevokeRec[] }>();
      for (const x of this.list) {
        if (!x.valid) continue;
        const by = this.attackers(x);
        if (by.length) {
          const a = this.authorize(x.node!, x.authorHex, x.path);
          if (!a.ok) failing.set(x, { why: a.why, by });
        }
      }
      if (failing.size === 0) break;
      // Force invalid those attacked by a revoke that is not itself failing (one always exists:
      // the tau-latest attacker has no later attacker).
      let n = 0;
      for (const [x, f] of failing) {
        if (f.by.some((r) => !failing.has(r))) {
          forced.set(x, f.why);
          n++;
        }
      }
      if (n === 0) {
        // Unreachable by the argument above; force the tau-earliest to guarantee progress.
        const [x, f] = failing.entries().next().value!;
        forced.set(x, f.why);
      }
    }
    const changed: GrantRec[] = [];
    for (const [g, s] of before) if (sig(g) !== s) changed.push(g);
    return changed;
  }

  // Valid revokes that remove one of x's authorizing grants without x in their causal past.
  private attackers(x: AuthRec): RevokeRec[] {
    const out: RevokeRec[] = [];
    const gs = this.byKey.get(x.authorHex);
    if (!gs) return out;
    for (const g of gs) {
      if (!g.valid || g.node === x.node || !isUnder(x.path, g.path)) continue;
      if (g.node && !this.le(g.node, x.node!)) continue;
      for (const r of g.removedBy) if (!this.le(x.node!, r.node)) out.push(r);
    }
    return out;
  }

  // One pass in tau order. For a grant or revoke only the revokes evaluated before it count;
  // the full check in recompute() catches later ones.
  private pass(forced: Map<AuthRec, string>): void {
    for (const x of this.list) {
      x.valid = false;
      x.rank = null;
      x.forced = null;
      if (x.kind === 'grant') x.removedBy = [];
      else x.removes = [];
    }
    for (const x of this.list) {
      const f = forced.get(x);
      if (f !== undefined) {
        x.forced = f;
        x.why = f;
        continue;
      }
      const a = this.authorize(x.node!, x.authorHex, x.path);
      x.valid = a.ok;
      x.rank = a.ok ? a.rank : null;
      x.why = a.ok ? 'valid' : a.why;
      if (x.kind === 'revoke' && a.ok) {
        const gs = this.byKey.get(x.keyHex);
        if (!gs) continue;
        for (const g of gs) {
          if (g.boot || !g.valid || !isUnder(g.path, x.path) || !this.le(g.node!, x.node)) continue;
          if (a.rank < g.depth || g.authorHex === x.authorHex) {
            x.removes.push(g);
            g.removedBy.push(x);
          }
        }
      }
    }
  }

  // For a new local entry (deps = all current heads): every known entry is in its past.
  authorizeNew(keyHex: string, path: string): { rank: number | null; covering: GrantRec[]; live: GrantRec[]; revoked: GrantRec[] } {
    const gs = this.byKey.get(keyHex) ?? [];
    let rank: number | null = null;
    const covering: GrantRec[] = [];
    const live: GrantRec[] = [];
    const revoked: GrantRec[] = [];
    for (const g of gs) {
      if (!g.valid) continue;
      if (g.removedBy.length) revoked.push(g);
      else live.push(g);
      if (!isUnder(path, g.path)) continue;
      covering.push(g);
      if (g.removedBy.length) continue;
      if (rank === null || g.depth < rank) rank = g.depth;
    }
    return { rank, covering, live, revoked };
  }
}

function sig(g: GrantRec): string {
  return `${g.valid}|${g.removedBy.map((r) => r.idHex).join(',')}`;
}
