import { Dag, type DagNode } from '../log/dag.ts';
import { Kind, kindName, type Entry } from '../log/entry.ts';
import { isUnder } from '../log/path.ts';
import { hash as oneShotHash } from 'node:crypto';
import { toHex } from '../crypto/hash.ts';
import { fingerprint } from '../crypto/keys.ts';
import { Authority, fp, id8, type AuthRec, type GrantRec } from '../authority/authority.ts';
import { CausalIndex, type CNode } from '../log/causal.ts';
import { Sum256 } from './digest.ts';

// The materialized view: a pure, deterministic function of the set of entries in a Dag, kept
// up to date incrementally. Rules and race outcomes: docs/AUTHORITY.md.

export interface Inode {
  path: string;
  type: 'dir' | 'file' | 'symlink';
  mode: number;
  mtime: number;
  size: number;
  root: Uint8Array | null;
  target: string;
  entryId: string; // hex of the winning entry, '' for implicit directories
  author: Uint8Array | null;
  contentId: string; // entry that supplied the content (the WRITE/MKDIR/SYMLINK; differs from entryId after a RENAME)
  attrId: string; // SETATTR entry whose mode/mtime apply, '' if none
  owner: string; // as recorded ('' = not recorded): a name or a decimal id (docs/FUSE.md)
  group: string;
}

export interface Version {
  entry: Entry;
  height: number;
  valid: boolean;
  why: string;
  winner: boolean;
  rank: number | null;
  kind: string; // entry kind name; for RENAME also the role at this path: 'RENAME-in' / 'RENAME-out'
  inode: Inode | null; // the state this version gives the path (null: removes it)
}

export interface Grant {
  key: Uint8Array;
  path: string;
  rank: number;
  entryId: string;
  grantedBy: Uint8Array;
  revokedBy: string | null; // first valid revoke that removes it (null: live)
  removedBy: string[]; // every valid revoke that removes it
}

export type Check = { ok: true; rank: number } | { ok: false; reason: string };

// How an entry acts at one path.
//   mkdir/write/symlink/delete: the entry's own path
//   mvout: RENAME at its source (a competing tombstone)    mvin: RENAME at its target, and at
//   target/x for each source/x it moved (competing; takes the source's state as of the rename)
//   rmsub: DELETE (or RENAME) at descendants of the removed directory: removes only the
//   versions it saw, never competes.   mvclear: RENAME at descendants of a replaced target.
//   attr: SETATTR.
type RefKind = 'mkdir' | 'write' | 'symlink' | 'delete' | 'mvout' | 'mvin' | 'rmsub' | 'mvclear' | 'attr';

type Own = Omit<Inode, 'path'>;

interface VRef {
  info: Info;
  rec: PathRec;
  kind: RefKind;
  src: PathRec | null; // mvin: the path whose state it takes
  sub: boolean; // mvin below the rename target
  cache: Own | null | undefined; // state of mkdir (previous dir) / mvin (source) as of this entry
  cacheStamp: number;
}

interface Info extends CNode {
  authorHex: string;
  kind: number;
  valid: boolean; // data entries; authority entries read `auth`
  why: string;
  rank: number | null; // at entry.path
  rank2: number | null; // RENAME: at entry.target
  hopeless: boolean; // no grant of its author in its past: can never be valid
  auth: AuthRec | null;
  regs: VRef[] | null;
  registered: boolean;
}

interface PathRec {
  path: string;
  name: string;
  depth: number;
  parent: PathRec | null;
  kids: Map<string, PathRec> | null;
  versions: VRef[]; // every entry acting at this path, in processing order
  front: VRef[]; // valid content versions not in the causal past of another
  afront: VRef[]; // valid SETATTRs not in the causal past of another SETATTR or content version
  readers: VRef[] | null; // mvin refs that take this path's state
  inode: Inode | null;
  hash: Uint8Array | null; // of inode, for the digest (computed lazily)
  hashed: boolean;
  visKids: Set<string> | null;
  stamp: number; // bumped when the validity of a version here (or of a source) changes
  rebuild: boolean;
  gen: number;
  dirtyMark: boolean;
}

interface Resolved {
  winner: VRef | null;
  own: Own | null;
  attr: VRef | null;
}

const IMPLICIT_DIR_MODE = 0o755;
const NO_VC: number[] = [];
// Shared empty list, replaced by a one-element array on first insert (arrays created empty and
// then pushed get a 17-slot backing store; most of these lists hold one element).
const NONE: VRef[] = [];

interface Fronts {
  front: VRef[];
  afront: VRef[];
}

function ownOf(e: Entry, type: Inode['type'], path = ''): Inode {
  return {
    path,
    type,
    mode: type === 'symlink' ? 0o777 : e.mode,
    mtime: e.mtime || e.time,
    size: type === 'file' ? e.size : type === 'symlink' ? Buffer.byteLength(e.target) : 0,
    root: type === 'file' ? e.root : null,
    target: type === 'symlink' ? e.target : '',
    entryId: e.idHex,
    author: e.author,
    contentId: e.idHex,
    attrId: '',
    owner: e.owner,
    group: e.group,
  };
}

// Inodes are shared (lookup returns the cached object) and therefore frozen.
function inodeAt(path: string, o: Own): Inode {
  return Object.freeze({ path, type: o.type, mode: o.mode, mtime: o.mtime, size: o.size, root: o.root, target: o.target, entryId: o.entryId, author: o.author, contentId: o.contentId, attrId: o.attrId, owner: o.owner, group: o.group });
}

function sameInode(a: Inode | null, b: Inode | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.type === b.type && a.mode === b.mode && a.mtime === b.mtime && a.size === b.size && a.target === b.target &&
    a.entryId === b.entryId && a.contentId === b.contentId && a.attrId === b.attrId && a.owner === b.owner && a.group === b.group &&
    (a.root === b.root || (!!a.root && !!b.root && Buffer.compare(a.root, b.root) === 0));
}

// What a winning SETATTR gives the path: all of mode, mtime, owner and group (it carries the
// full set; writers fill in the fields they do not change).
function attrsOf(e: Entry): Pick<Inode, 'mode' | 'mtime' | 'attrId' | 'owner' | 'group'> {
  return { mode: e.mode, mtime: e.mtime, attrId: e.idHex, owner: e.owner, group: e.group };
}

function key32(b: Uint8Array): number {
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

// SHA-256 of the canonical form of one visible path (unambiguous: JSON of the fields). Owner
// and group join the list only when recorded, so a view without owners keeps its digest.
function hashInode(n: Inode): Uint8Array {
  const f: unknown[] = [n.path, n.type, n.mode, n.mtime, n.size, n.root ? toHex(n.root) : '', n.target];
  if (n.owner !== '' || n.group !== '') f.push(n.owner, n.group);
  return oneShotHash('sha256', JSON.stringify(f), 'buffer');
}


export class FsState {
  readonly dag: Dag;
  readOnly = false;
  private causal = new CausalIndex();
  private auth: Authority;
  private infos: Info[] = [];
  private bySeq: Info[] = []; // by DagNode.seq (the Dag maps ids to nodes already)
  private recs = new Map<string, PathRec>();
  private root: PathRec;
  private bootInfo: Info | null = null;
  private authorData = new Map<string, Info[]>(); // author hex -> its data entries that may be valid
  private snaps: Info[] = [];
  private dirty: PathRec[] = [];
  private by32 = new Map<number, Info | Info[]>(); // first 4 id bytes -> entries (finds deps without hex)
  private authors: { key: Uint8Array; hex: string }[] = [];
  private sum = new Sum256();
  private unhashed: PathRec[] = []; // paths whose inode changed since the digest was last brought up to date
  private gen = 0;
  private markSeen = new Set<PathRec>();
  private rebuilds: PathRec[] = [];
  private pending: Info[] = []; // prepared (see prepare), not yet checked and registered
  private pendingRecompute = false;
  private olds: Map<string, Inode | null> | null = null; // see apply
  stats = { applied: 0, recomputes: 0, rechecked: 0, msIngest: 0, msRegister: 0, msRefresh: 0 };

  // `only` (internal, see atHeads): restrict to these entries (a causally closed set).
  constructor(dag: Dag, only?: Set<string>) {
    this.dag = dag;
    this.auth = new Authority((a, b) => this.causal.le(a, b));
    this.root = this.newRec('/', '', null);
    const nodes = Array.from(dag.nodes.values());
    this.run(only ? nodes.filter((n) => only.has(n.entry.idHex)) : nodes, false);
    if (only) this.readOnly = true;
  }

  // Read-only state of the causal past of `heads` (snapshots, .snap views).
  static atHeads(dag: Dag, heads: string[]): FsState {
    const want = new Set<string>();
    for (const h of heads) {
      if (!dag.has(h)) throw new Error(`unknown entry ${h}`);
      if (want.has(h)) continue;
      const stack = [h];
      want.add(h);
      while (stack.length) {
        const n = dag.get(stack.pop()!)!;
        for (const d of n.entry.deps) {
          const dh = toHex(d);
          if (!want.has(dh)) {
            want.add(dh);
            stack.push(dh);
          }
        }
      }
    }
    return new FsState(dag, want);
  }

  // ---------------------------------------------------------------- ingest

  // Returns the paths whose inode changed. `olds`: receives each changed path's inode from
  // before (the first one seen, so a map shared by several applies keeps the oldest): the
  // change journal's "old" side, without reading it back from disk.
  apply(nodes: DagNode[], olds?: Map<string, Inode | null>): string[] {
    if (this.readOnly) throw new Error('this state is a read-only snapshot');
    this.olds = olds ?? null;
    try {
      return this.run(nodes, true);
    } finally {
      this.olds = null;
    }
  }

  private run(nodes: DagNode[], collect: boolean): string[] {
    let list = nodes.filter((n) => n);
    for (let i = 1; i < list.length; i++) {
      if (list[i].seq < list[i - 1].seq) {
        list = [...list].sort((a, b) => a.seq - b.seq);
        break;
      }
    }
    const fresh: Info[] = this.pending;
    let recompute = this.pendingRecompute;
    this.pending = [];
    this.pendingRecompute = false;
    const t0 = performance.now();
    for (const n of list) if (this.ingest(n, fresh)) recompute = true;
    const t1 = performance.now();
    this.stats.msIngest += t1 - t0;
    if (fresh.length === 0) return [];
    this.stats.applied += fresh.length;

    // Authority: a REVOKE re-evaluates every grant and revoke; data entries of the keys whose
    // grants changed are re-checked, and the paths they touch re-resolved.
    if (recompute) {
      this.stats.recomputes++;
      const changed = this.auth.recompute();
      if (changed.length) this.recheck(changed);
    }
    for (const r of this.rebuilds) {
      if (!r.rebuild) continue;
      r.rebuild = false;
      r.front = NONE;
      r.afront = NONE;
      for (const v of r.versions) if (v.info.valid) this.frontAdd(r, v);
    }
    this.rebuilds = [];
    this.markSeen.clear();

    for (const info of fresh) {
      if (info.auth || info.kind === Kind.BOOTSTRAP) continue;
      if (info.kind === Kind.GRANT || info.kind === Kind.REVOKE) continue; // hopeless
      this.check(info);
      this.register(info);
    }
    const t2 = performance.now();
    this.stats.msRegister += t2 - t1;
    const changed = this.refresh(collect);
    this.stats.msRefresh += performance.now() - t2;
    return changed;
  }

  // Places a node the Dag just applied in the causal index and the authority table, so that
  // admissible() of the entries released right after it sees it; apply() completes it.
  prepare(n: DagNode): void {
    if (this.readOnly) return;
    if (this.ingest(n, this.pending)) this.pendingRecompute = true;
  }

  // The admission rule (docs/AUTHORITY.md): an entry joins the log only when its author is the
  // bootstrap key or holds a grant covering its path(s) in the entry's causal past. Any other
  // entry can never be valid, whatever arrives later. null: admitted; else why not.
  admissible(e: Entry): string | null {
    if (e.kind === Kind.BOOTSTRAP) return null;
    const hex = this.authorHex(e.author);
    if (hex === this.auth.bootHex) return null;
    const deps: Info[] = [];
    for (const d of e.deps) {
      const di = this.find32(d);
      if (!di) throw new Error(`internal: admission of ${e.idHex} before its dep ${toHex(d)} was prepared`);
      deps.push(di);
    }
    const gs = this.auth.byKey.get(hex) ?? [];
    const paths = e.kind === Kind.SNAPSHOT ? [null] : e.kind === Kind.RENAME ? [e.path, e.target] : [e.path];
    for (const p of paths) {
      const ok = gs.some((g) => g.node && (p === null || isUnder(p, g.path)) && deps.some((d) => this.causal.le(g.node!, d)));
      if (!ok) return `unauthorized: key ${fp(e.author, hex)} holds no grant ${p === null ? 'anywhere' : `covering ${p}`} in the entry's causal past`;
    }
    return null;
  }

  // The key holds some grant in the log (valid or not): its parked entries are kept first.
  hasGrantRecord(authorHex: string): boolean {
    return authorHex === this.auth.bootHex || this.auth.byKey.has(authorHex);
  }

  private ingest(n: DagNode, fresh: Info[]): boolean {
    const e = n.entry;
    if (this.bySeq[n.seq] !== undefined) return false;
    let recompute = false;
    const deps: Info[] = new Array(e.deps.length);
    let nd = 0;
    for (const d of e.deps) {
      let di = this.find32(d);
      if (di) {
        deps[nd++] = di;
        continue;
      }
      const h = toHex(d);
      const dn = this.dag.get(h);
      if (!dn) throw new Error(`entry ${e.idHex} applied before its dep ${h}`);
      di = this.bySeq[dn.seq];
      if (!di) {
        // The caller skipped some entries: take them (all unseen ancestors) from the Dag first.
        if (this.pullMissing(n, fresh)) recompute = true;
        di = this.bySeq[dn.seq];
      }
      deps[nd++] = di;
    }
    const info: Info = {
      idx: this.infos.length, entry: e, height: n.height, deps, vc: NO_VC, chain: -1, pos: -1,
      authorHex: this.authorHex(e.author), kind: e.kind, valid: false, why: '', rank: null, rank2: null,
      hopeless: false, auth: null, regs: null, registered: false,
    };
    let candidate: boolean;
    if (e.kind === Kind.BOOTSTRAP) {
      this.auth.setBootstrap(info);
      this.bootInfo = info;
      candidate = true;
      info.valid = true;
      info.why = 'bootstrap';
      this.markDirty(this.root);
    } else candidate = this.auth.candidate(info.authorHex, deps);
    info.hopeless = !candidate;
    this.causal.place(info, info.authorHex, candidate);
    this.infos.push(info);
    this.bySeq[n.seq] = info;
    const k = key32(e.id);
    const prev = this.by32.get(k);
    if (prev === undefined) this.by32.set(k, info);
    else if (Array.isArray(prev)) prev.push(info);
    else this.by32.set(k, [prev, info]);
    if (e.kind === Kind.GRANT || e.kind === Kind.REVOKE) {
      if (candidate) {
        if (e.kind === Kind.GRANT) info.auth = this.auth.addGrant(info);
        else {
          info.auth = this.auth.addRevoke(info);
          recompute = true;
        }
      } else info.why = `unauthorized: key ${fp(e.author, info.authorHex)} has no grant at ${e.path}`;
    } else if (e.kind !== Kind.BOOTSTRAP && candidate) {
      let l = this.authorData.get(info.authorHex);
      if (!l) this.authorData.set(info.authorHex, (l = []));
      l.push(info);
    }
    fresh.push(info);
    return recompute;
  }

  private find32(id: Uint8Array): Info | undefined {
    const x = this.by32.get(key32(id));
    if (x === undefined) return undefined;
    if (!Array.isArray(x)) return eqBytes(x.entry.id, id) ? x : undefined;
    for (const i of x) if (eqBytes(i.entry.id, id)) return i;
    return undefined;
  }

  private pullMissing(n: DagNode, fresh: Info[]): boolean {
    const missing: DagNode[] = [];
    const seen = new Set<number>();
    const stack = [n];
    while (stack.length) {
      const x = stack.pop()!;
      for (const d of x.entry.deps) {
        const dn = this.dag.get(toHex(d));
        if (!dn) throw new Error(`entry ${x.entry.idHex} applied before its dep ${toHex(d)}`);
        if (this.bySeq[dn.seq] !== undefined || seen.has(dn.seq)) continue;
        seen.add(dn.seq);
        missing.push(dn);
        stack.push(dn);
      }
    }
    missing.sort((a, b) => a.seq - b.seq);
    let recompute = false;
    for (const m of missing) if (this.ingest(m, fresh)) recompute = true;
    return recompute;
  }

  private authorHex(k: Uint8Array): string {
    const a = this.authors;
    for (let i = 0; i < a.length; i++) if (eqBytes(a[i].key, k)) return a[i].hex;
    const hex = toHex(k);
    if (a.length >= 16) a.shift();
    a.push({ key: k, hex });
    return hex;
  }

  private check(info: Info): void {
    const e = info.entry;
    if (info.hopeless) {
      info.valid = false;
      info.rank = info.rank2 = null;
      info.why = `unauthorized: key ${fp(e.author, info.authorHex)} has no grant ${e.kind === Kind.SNAPSHOT ? 'anywhere' : `at ${e.path}`}`;
      return;
    }
    const a = this.auth.authorize(info, info.authorHex, e.kind === Kind.SNAPSHOT ? null : e.path);
    let valid = a.ok;
    let why = a.ok ? 'valid' : a.why;
    info.rank = a.ok ? a.rank : null;
    info.rank2 = null;
    if (e.kind === Kind.RENAME) {
      const b = this.auth.authorize(info, info.authorHex, e.target);
      info.rank2 = b.ok ? b.rank : null;
      if (!b.ok && valid) {
        valid = false;
        why = b.why;
      }
    }
    info.valid = valid;
    info.why = why;
  }

  // Grants whose status changed: re-check the data entries of their keys under their paths.
  private recheck(changed: GrantRec[]): void {
    const seen = new Set<Info>();
    for (const g of changed) {
      const l = this.authorData.get(g.keyHex);
      if (!l) continue;
      for (const info of l) {
        if (!info.registered || seen.has(info)) continue;
        const e = info.entry;
        if (!(e.kind === Kind.SNAPSHOT || isUnder(e.path, g.path) || (e.kind === Kind.RENAME && isUnder(e.target, g.path)))) continue;
        seen.add(info);
        this.stats.rechecked++;
        const before = `${info.valid}|${info.rank}|${info.rank2}`;
        this.check(info);
        if (`${info.valid}|${info.rank}|${info.rank2}` === before) continue;
        for (const v of info.regs ?? NONE) {
          if (!v.rec.rebuild) {
            v.rec.rebuild = true;
            this.rebuilds.push(v.rec);
          }
          this.markChanged(v.rec);
        }
      }
    }
  }

  private markDirty(rec: PathRec): void {
    if (rec.dirtyMark) return;
    rec.dirtyMark = true;
    this.dirty.push(rec);
  }

  private markChanged(rec: PathRec): void {
    if (this.markSeen.has(rec)) return;
    this.markSeen.add(rec);
    rec.stamp++;
    this.markDirty(rec);
    if (rec.readers) for (const r of rec.readers) this.markChanged(r.rec);
  }

  // ---------------------------------------------------------------- paths and versions

  private newRec(path: string, name: string, parent: PathRec | null): PathRec {
    const rec: PathRec = {
      path, name, depth: parent ? parent.depth + 1 : 0, parent, kids: null, versions: NONE, front: NONE, afront: NONE, readers: null,
      inode: null, hash: null, hashed: true, visKids: null, stamp: 0, rebuild: false, gen: 0, dirtyMark: false,
    };
    this.recs.set(path, rec);
    return rec;
  }

  private ensureRec(path: string): PathRec {
    const r = this.recs.get(path);
    if (r) return r;
    const i = path.lastIndexOf('/');
    const parent = i === 0 ? this.root : this.ensureRec(path.slice(0, i));
    const name = path.slice(i + 1);
    const rec = this.newRec(path, name, parent);
    if (!parent.kids) parent.kids = new Map();
    parent.kids.set(name, rec);
    return rec;
  }

  private le(a: Info, b: Info): boolean {
    return this.causal.le(a, b);
  }

  // Adds a valid version to a frontier pair: drops what lies in its causal past.
  private frontAdd(f: Fronts, v: VRef): void {
    const x = v.info;
    if (f.afront.length) this.dropPast(f.afront, x);
    if (v.kind !== 'attr') {
      if (f.front === NONE) f.front = [v];
      else {
        this.dropPast(f.front, x);
        f.front.push(v);
      }
    } else if (f.afront === NONE) f.afront = [v];
    else f.afront.push(v);
  }

  private dropPast(arr: VRef[], x: Info): void {
    let j = 0;
    for (let i = 0; i < arr.length; i++) {
      const a = arr[i];
      if (!this.causal.le(a.info, x)) arr[j++] = a;
    }
    arr.length = j;
  }

  private newRef(info: Info, rec: PathRec, kind: RefKind, src: PathRec | null = null, sub = false): VRef {
    return { info, rec, kind, src, sub, cache: undefined, cacheStamp: -1 };
  }

  private addRef(v: VRef): void {
    const rec = v.rec;
    if (rec.versions === NONE) rec.versions = [v];
    else rec.versions.push(v);
    if (v.info.regs === null) v.info.regs = [v];
    else v.info.regs.push(v);
    if (v.info.valid) this.frontAdd(v.rec, v);
    this.markDirty(v.rec);
  }

  // Descendants of `rec` that hold a version in the causal past of x (whatever its validity:
  // this set depends only on causality, so on every node it is the same).
  private subtree(rec: PathRec, x: Info): PathRec[] {
    const out: PathRec[] = [];
    if (!rec.kids) return out;
    const stack: PathRec[] = [...rec.kids.values()];
    while (stack.length) {
      const q = stack.pop()!;
      if (q.kids) for (const k of q.kids.values()) stack.push(k);
      for (const v of q.versions) {
        if (v.info.idx >= x.idx) break;
        if (!v.info.hopeless && this.le(v.info, x)) {
          out.push(q);
          break;
        }
      }
    }
    return out;
  }

  private register(info: Info): void {
    info.registered = true;
    const e = info.entry;
    if (info.hopeless) {
      // Can never be valid: kept in the history of its own path(s) only, so that entries of
      // keys without any grant cost O(1) whatever they name.
      if (e.kind === Kind.SNAPSHOT) return;
      const kind: RefKind = e.kind === Kind.WRITE ? 'write' : e.kind === Kind.SYMLINK ? 'symlink' : e.kind === Kind.MKDIR ? 'mkdir' : e.kind === Kind.SETATTR ? 'attr' : e.kind === Kind.DELETE ? 'delete' : 'mvout';
      this.addRef(this.newRef(info, this.ensureRec(e.path), kind));
      if (e.kind === Kind.RENAME) this.addRef(this.newRef(info, this.ensureRec(e.target), 'mvin', this.ensureRec(e.path)));
      return;
    }
    switch (e.kind) {
      case Kind.WRITE:
        this.addRef(this.newRef(info, this.ensureRec(e.path), 'write'));
        break;
      case Kind.SYMLINK:
        this.addRef(this.newRef(info, this.ensureRec(e.path), 'symlink'));
        break;
      case Kind.MKDIR: {
        const rec = this.ensureRec(e.path);
        const v = this.newRef(info, rec, 'mkdir');
        v.cache = this.asOf(rec, info);
        v.cacheStamp = rec.stamp;
        this.addRef(v);
        break;
      }
      case Kind.SETATTR:
        this.addRef(this.newRef(info, this.ensureRec(e.path), 'attr'));
        break;
      case Kind.DELETE: {
        const rec = this.ensureRec(e.path);
        const sub = this.subtree(rec, info);
        this.addRef(this.newRef(info, rec, 'delete'));
        for (const q of sub) this.addRef(this.newRef(info, q, 'rmsub'));
        break;
      }
      case Kind.RENAME: {
        // dst := src as of the rename (subtree included), then src and its subtree removed.
        const s = this.ensureRec(e.path);
        const d = this.ensureRec(e.target);
        const specs = new Map<PathRec, VRef>();
        for (const q of this.subtree(d, info)) specs.set(q, this.newRef(info, q, 'mvclear'));
        specs.set(d, this.newRef(info, d, 'mvin', s, false));
        const ssub = this.subtree(s, info);
        for (const q of ssub) {
          const dq = this.ensureRec(d.path + q.path.slice(s.path.length));
          specs.set(dq, this.newRef(info, dq, 'mvin', q, true));
        }
        if (specs.get(s)?.kind !== 'mvin') specs.set(s, this.newRef(info, s, 'mvout'));
        for (const q of ssub) if (!specs.has(q)) specs.set(q, this.newRef(info, q, 'rmsub'));
        for (const v of specs.values()) {
          if (v.kind !== 'mvin') continue;
          v.cache = this.asOf(v.src!, info);
          v.cacheStamp = v.src!.stamp;
          (v.src!.readers ??= []).push(v);
        }
        for (const v of specs.values()) this.addRef(v);
        break;
      }
      case Kind.SNAPSHOT:
        this.snaps.push(info);
        break;
    }
  }

  // ---------------------------------------------------------------- resolution

  private rankOfRef(v: VRef): number {
    const r = v.kind === 'mvin' || v.kind === 'mvclear' ? v.info.rank2 : v.info.rank;
    return r ?? Number.MAX_SAFE_INTEGER;
  }

  // Does a beat b? Stronger rank, then higher causal height, later timestamp, higher id.
  private better(a: VRef, b: VRef): boolean {
    const ra = this.rankOfRef(a);
    const rb = this.rankOfRef(b);
    if (ra !== rb) return ra < rb;
    if (a.info.height !== b.info.height) return a.info.height > b.info.height;
    if (a.info.entry.time !== b.info.entry.time) return a.info.entry.time > b.info.entry.time;
    return a.info.entry.idHex > b.info.entry.idHex;
  }

  private lostWhy(v: VRef, w: VRef): string {
    const who = `lost to ${id8(w.info.entry.idHex)}: `;
    const rv = this.rankOfRef(v);
    const rw = this.rankOfRef(w);
    if (rv !== rw) return who + `weaker rank ${rv} vs ${rw}`;
    if (v.info.height !== w.info.height) return who + `lower causal height ${v.info.height} vs ${w.info.height}`;
    if (v.info.entry.time !== w.info.entry.time) return who + `earlier timestamp ${v.info.entry.time} vs ${w.info.entry.time}`;
    return who + 'lower entry id';
  }

  private cached(v: VRef, from: PathRec): Own | null {
    if (v.cache === undefined || v.cacheStamp !== from.stamp) {
      v.cache = this.asOf(from, v.info);
      v.cacheStamp = from.stamp;
    }
    return v.cache;
  }

  // The state a content version gives its path (null: none).
  private stateOf(v: VRef): Own | null {
    const e = v.info.entry;
    switch (v.kind) {
      case 'write':
        return v.cache ?? (v.cache = Object.freeze(ownOf(e, 'file', v.rec.path)));
      case 'symlink':
        return v.cache ?? (v.cache = Object.freeze(ownOf(e, 'symlink', v.rec.path)));
      case 'mkdir': {
        const prev = this.cached(v, v.rec);
        if (prev && prev.type === 'dir') return { ...prev, entryId: e.idHex, author: e.author, attrId: '' };
        return ownOf(e, 'dir');
      }
      case 'mvin': {
        const s = this.cached(v, v.src!);
        return s ? { ...s, entryId: e.idHex, author: e.author } : null;
      }
      default:
        return null;
    }
  }

  private competing(v: VRef): boolean {
    switch (v.kind) {
      case 'rmsub':
      case 'mvclear':
      case 'attr':
        return false;
      case 'mvin':
        return !v.sub || this.stateOf(v) !== null;
      default:
        return true;
    }
  }

  private resolveSet(front: VRef[], afront: VRef[]): Resolved {
    let winner: VRef | null = null;
    for (const v of front) {
      if (!this.competing(v)) continue;
      if (!winner || this.better(v, winner)) winner = v;
    }
    let attr: VRef | null = null;
    for (const v of afront) if (!attr || this.better(v, attr)) attr = v;
    let own = winner ? this.stateOf(winner) : null;
    if (own && attr) own = Object.freeze({ ...own, ...attrsOf(attr.info.entry) });
    return { winner, own, attr };
  }

  // Own state of `rec` counting only valid versions in x's causal past (x itself excluded).
  private asOf(rec: PathRec, x: Info): Own | null {
    if (rec === this.root) return null;
    let fast = true;
    for (const f of rec.front) if (f.info === x || !this.le(f.info, x)) { fast = false; break; }
    if (fast) for (const f of rec.afront) if (f.info === x || !this.le(f.info, x)) { fast = false; break; }
    if (fast) return this.resolveSet(rec.front, rec.afront).own;
    const f: Fronts = { front: NONE, afront: NONE };
    for (const v of rec.versions) {
      if (v.info.idx >= x.idx) break;
      if (v.info.valid && this.le(v.info, x)) this.frontAdd(f, v);
    }
    return this.resolveSet(f.front, f.afront).own;
  }

  private rootOwn(): Own | null {
    const b = this.bootInfo;
    if (!b) return null;
    const e = b.entry;
    const own: Own = { type: 'dir', mode: e.mode || IMPLICIT_DIR_MODE, mtime: e.mtime || e.time, size: 0, root: null, target: '', entryId: e.idHex, author: e.author, contentId: e.idHex, attrId: '', owner: '', group: '' };
    let attr: VRef | null = null;
    for (const v of this.root.afront) if (!attr || this.better(v, attr)) attr = v;
    return attr ? { ...own, ...attrsOf(attr.info.entry) } : own;
  }

  // The inode of a path: its own state, or an implicit directory when it has visible children.
  // A cached version state that already is an inode of this path is returned as is (inodes are
  // never mutated).
  private inodeOf(rec: PathRec, res: Resolved): Inode | null {
    if (rec === this.root) {
      const own = this.rootOwn();
      return own ? inodeAt('/', own) : null;
    }
    const own = res.own;
    if (own && (own.type === 'dir' || !rec.visKids || rec.visKids.size === 0)) return (own as Inode).path === rec.path ? (own as Inode) : inodeAt(rec.path, own);
    if (!rec.visKids || rec.visKids.size === 0) return null;
    // A visible child makes the path a directory (implicit), whatever its own winner.
    const n: Inode = { path: rec.path, type: 'dir', mode: IMPLICIT_DIR_MODE, mtime: 0, size: 0, root: null, target: '', entryId: '', author: null, contentId: '', attrId: '', owner: '', group: '' };
    return Object.freeze(res.attr ? { ...n, ...attrsOf(res.attr.info.entry) } : n);
  }

  private refresh(collect: boolean): string[] {
    const changed = new Set<string>();
    if (this.dirty.length === 0) return [];
    const gen = ++this.gen;
    const buckets: PathRec[][] = [];
    for (const r of this.dirty) {
      r.dirtyMark = false;
      (buckets[r.depth] ??= []).push(r);
    }
    this.dirty = [];
    for (let d = buckets.length - 1; d >= 0; d--) {
      const b = buckets[d];
      if (!b) continue;
      for (const rec of b) {
        if (rec.gen === gen) continue;
        rec.gen = gen;
        const res = rec === this.root ? { winner: null, own: null, attr: null } : this.resolveSet(rec.front, rec.afront);
        const inode = this.inodeOf(rec, res);
        if (sameInode(rec.inode, inode)) continue;
        if (rec.hashed) {
          rec.hashed = false;
          this.unhashed.push(rec);
        }
        if (collect) changed.add(rec.path);
        if (this.olds && !this.olds.has(rec.path)) this.olds.set(rec.path, rec.inode);
        const was = rec.inode !== null;
        rec.inode = inode;
        if (was !== (inode !== null) && rec.parent) {
          const p = rec.parent;
          if (inode) (p.visKids ??= new Set()).add(rec.name);
          else p.visKids!.delete(rec.name);
          if (collect) changed.add(p.path);
          if (p.gen !== gen) (buckets[p.depth] ??= []).push(p);
        }
      }
    }
    return [...changed];
  }

  // ---------------------------------------------------------------- queries

  lookup(path: string): Inode | null {
    return this.recs.get(path)?.inode ?? null;
  }

  // Whether the path's current version won over concurrent ones (a conflict was resolved
  // there): more than one competing version in its front. Cheap: fronts are small.
  contested(path: string): boolean {
    const rec = this.recs.get(path);
    if (!rec || rec === this.root) return false;
    let n = 0;
    for (const v of rec.front) if (this.competing(v) && ++n > 1) return true;
    return false;
  }

  readdir(path: string): string[] {
    const rec = this.recs.get(path);
    if (!rec || !rec.inode || rec.inode.type !== 'dir' || !rec.visKids) return [];
    return [...rec.visKids].sort();
  }

  canWrite(key: Uint8Array, path: string): Check {
    const kfp = fingerprint(key);
    if (!this.auth.boot) return { ok: false, reason: `key ${kfp} may not write ${path}: the filesystem has no bootstrap entry yet` };
    const r = this.auth.authorizeNew(toHex(key), path);
    if (r.rank !== null) return { ok: true, rank: r.rank };
    let why: string;
    if (r.covering.length) {
      const g = r.covering.reduce((a, b) => (b.depth < a.depth ? b : a));
      why = `its grant at ${g.path} was revoked by ${id8(g.removedBy[0].idHex)}`;
    } else if (r.live.length) {
      const g = nearest(r.live, path);
      why = `its nearest grant is at ${g.path} (rank ${g.depth}), which does not cover ${path}`;
    } else if (r.revoked.length) {
      const g = nearest(r.revoked, path);
      why = `it holds no grant (its grant at ${g.path} was revoked by ${id8(g.removedBy[0].idHex)})`;
    } else why = 'it holds no grant';
    return { ok: false, reason: `key ${kfp} may not write ${path}: ${why}` };
  }

  // GRANTs and REVOKEs the evaluation forced invalid (docs/AUTHORITY.md rule 8): the only
  // entries that can be invalid although rule 4 alone would allow them.
  forcedInvalid(): string[] {
    return this.auth.list.filter((x) => x.forced !== null).map((x) => x.idHex);
  }

  rankOf(key: Uint8Array, path: string): number | null {
    return this.auth.authorizeNew(toHex(key), path).rank;
  }

  // Valid grants (the bootstrap key's '/' included); revoked ones carry revokedBy. With a
  // path: only grants covering it or under it.
  grants(path?: string): Grant[] {
    const out: Grant[] = [];
    for (const gs of this.auth.byKey.values()) {
      for (const g of gs) {
        if (!g.valid) continue;
        if (path !== undefined && !isUnder(path, g.path) && !isUnder(g.path, path)) continue;
        out.push({ key: g.key, path: g.path, rank: g.depth, entryId: g.idHex, grantedBy: g.author, revokedBy: g.removedBy.length ? g.removedBy[0].idHex : null, removedBy: g.removedBy.map((r) => r.idHex) });
      }
    }
    out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : Buffer.compare(a.key, b.key) || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0)));
    return out;
  }

  isValid(idHex: string): boolean {
    const n = this.dag.get(idHex);
    const info = n && this.bySeq[n.seq];
    if (!info) return false;
    if (info.auth) return info.auth.valid;
    return info.valid;
  }

  // Why an entry is or is not valid (for `show` and tests).
  whyOf(idHex: string): string {
    const n = this.dag.get(idHex);
    const info = n && this.bySeq[n.seq];
    if (!info) return 'unknown entry';
    if (info.auth) return info.auth.valid ? (info.auth.kind === 'grant' && info.auth.removedBy.length ? `revoked by ${id8(info.auth.removedBy[0].idHex)}` : 'valid') : info.auth.why;
    return info.why;
  }

  // Sum mod 2^256 of SHA-256 over each visible path's canonical form; brought up to date here
  // (lazily) for the paths that changed since the last call.
  viewDigest(): string {
    for (const rec of this.unhashed) {
      rec.hashed = true;
      if (rec.hash) this.sum.sub(rec.hash);
      rec.hash = rec.inode ? hashInode(rec.inode) : null;
      if (rec.hash) this.sum.add(rec.hash);
    }
    this.unhashed = [];
    return this.sum.hex();
  }

  snapshots(): { label: string; entryId: string; heads: string[] }[] {
    const l = this.snaps.filter((s) => s.valid);
    l.sort((a, b) => {
      const ea = a.entry;
      const eb = b.entry;
      if (ea.name !== eb.name) return ea.name < eb.name ? -1 : 1;
      if (a.height !== b.height) return b.height - a.height;
      if (ea.time !== eb.time) return eb.time - ea.time;
      return ea.idHex < eb.idHex ? 1 : -1;
    });
    return l.map((s) => ({ label: s.entry.name, entryId: s.entry.idHex, heads: s.entry.deps.map(toHex) }));
  }

  history(path: string): Version[] {
    const rec = this.recs.get(path);
    if (!rec) return [];
    const out: Version[] = [];
    const res = rec === this.root ? { winner: null, own: null, attr: null } : this.resolveSet(rec.front, rec.afront);
    const displaced = !!(res.own && rec.visKids && rec.visKids.size > 0 && res.own.type !== 'dir');
    const front = new Set(rec.front);
    const afront = new Set(rec.afront);
    if (rec === this.root && this.bootInfo) {
      const b = this.bootInfo;
      out.push({ entry: b.entry, height: 0, valid: true, why: 'bootstrap: the root directory', winner: true, rank: 0, kind: 'BOOTSTRAP', inode: rec.inode });
    }
    // (height, id) order: the successor named by "superseded by" is the first valid version after
    // it in this order that has it in its causal past (usually the very next one).
    const order = [...rec.versions].sort((a, b) => a.info.height - b.info.height || (a.info.entry.idHex < b.info.entry.idHex ? -1 : a.info.entry.idHex > b.info.entry.idHex ? 1 : 0));
    const at = new Map<VRef, number>();
    order.forEach((v, i) => at.set(v, i));
    const supersededWhy = (v: VRef): string => {
      for (let i = at.get(v)! + 1; i < order.length; i++) {
        const w = order[i];
        if (w === v || !w.info.valid || w.info === v.info) continue;
        if (v.kind !== 'attr' && w.kind === 'attr') continue;
        if (this.le(v.info, w.info)) return `superseded by ${id8(w.info.entry.idHex)}`;
      }
      return 'superseded';
    };
    for (const v of rec.versions) {
      const info = v.info;
      let why: string;
      let winner = false;
      if (!info.valid) why = info.why;
      else if (v.kind === 'attr') {
        if (v === res.attr) {
          why = 'winner (attributes)';
          winner = true;
        } else if (afront.has(v)) why = this.lostWhy(v, res.attr!);
        else why = supersededWhy(v);
      } else if (front.has(v)) {
        if (v === res.winner) {
          if (displaced) why = `displaced: ${path} has children, so it is shown as a directory`;
          else {
            why = 'winner';
            winner = true;
          }
        } else if (this.competing(v)) why = res.winner ? this.lostWhy(v, res.winner) : 'concurrent';
        else why = v.kind === 'mvin' ? `moved from ${v.src!.path}, which did not exist then` : `removed with ${info.entry.path} (keeps concurrent versions)`;
      } else why = supersededWhy(v);
      const st = v.kind === 'attr' ? null : this.stateOf(v);
      out.push({
        entry: info.entry, height: info.height, valid: info.valid, why, winner, rank: info.valid ? this.rankOfRef(v) : null,
        kind: info.entry.kind === Kind.RENAME ? (v.kind === 'mvin' ? 'RENAME-in' : 'RENAME-out') : kindName(info.entry.kind),
        inode: st ? { ...st, path } : null,
      });
    }
    out.sort((a, b) => b.height - a.height || b.entry.time - a.entry.time || (a.entry.idHex < b.entry.idHex ? 1 : a.entry.idHex > b.entry.idHex ? -1 : 0));
    return out;
  }

  // Concurrent versions that lost at this path (valid, in no other version's causal past), and
  // a winner displaced because the path has children. Readable and revertable.
  losers(path: string): Version[] {
    return this.history(path).filter((v) => v.valid && v.entry.kind !== Kind.SETATTR && (v.why.startsWith('lost to ') || v.why.startsWith('displaced:')));
  }

  // Counters for benchmarks and tests.
  info(): { entries: number; paths: number; chains: number; walks: number; authorityPasses: number } {
    return { entries: this.infos.length, paths: this.recs.size, chains: this.causal.chainCount, walks: this.causal.walks, authorityPasses: this.auth.passes };
  }
}

function nearest(gs: GrantRec[], path: string): GrantRec {
  let best = gs[0];
  let bestShared = -1;
  for (const g of gs) {
    const shared = commonDepth(g.path, path);
    if (shared > bestShared || (shared === bestShared && g.depth < best.depth)) {
      best = g;
      bestShared = shared;
    }
  }
  return best;
}

function commonDepth(a: string, b: string): number {
  const pa = a === '/' ? [] : a.slice(1).split('/');
  const pb = b === '/' ? [] : b.slice(1).split('/');
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return i;
}

