// Shared helpers for the authority/view/conflict tests: real signed entries in a Dag.
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { createEntry, type Draft } from '../../src/log/sign.ts';
import { Dag } from '../../src/log/dag.ts';
import assert from 'node:assert/strict';
import { Kind, kindName, type Entry } from '../../src/log/entry.ts';
import { isUnder } from '../../src/log/path.ts';
import { FsState } from '../../src/view/state.ts';

const keyCache: KeyPair[] = [];
export function key(i: number): KeyPair {
  while (keyCache.length <= i) keyCache.push(generateKeyPair());
  return keyCache[i];
}

export function rootOf(s: string): Uint8Array {
  return sha256(Buffer.from(s));
}

export class World {
  dag = new Dag();
  root: KeyPair;
  boot: Entry;
  all: Entry[] = [];
  t = 1_000_000;

  constructor(rootKey: KeyPair = key(0)) {
    this.root = rootKey;
    this.boot = createEntry(rootKey, { kind: Kind.BOOTSTRAP, path: '/', name: 'test', time: this.t++ });
    this.push(this.boot);
  }

  private push(e: Entry): Entry {
    const r = this.dag.add(e);
    if (r.status !== 'applied') throw new Error(`not applied: ${JSON.stringify(r)}`);
    this.all.push(e);
    return e;
  }

  // deps: explicit parents (a partition), default: the current heads.
  make(kp: KeyPair, d: Draft, deps?: Entry[]): Entry {
    const ds = deps ? deps.map((e) => e.id) : this.dag.headIds();
    return createEntry(kp, { time: this.t++, ...d, fsId: this.boot.id, deps: ds });
  }

  add(kp: KeyPair, d: Draft, deps?: Entry[]): Entry {
    return this.push(this.make(kp, d, deps));
  }

  write(kp: KeyPair, path: string, content = path, deps?: Entry[], extra: Partial<Draft> = {}): Entry {
    return this.add(kp, { kind: Kind.WRITE, path, root: rootOf(content), size: content.length, mode: 0o644, mtime: 5, ...extra }, deps);
  }
  mkdir(kp: KeyPair, path: string, deps?: Entry[], mode = 0o755): Entry {
    return this.add(kp, { kind: Kind.MKDIR, path, mode }, deps);
  }
  del(kp: KeyPair, path: string, deps?: Entry[]): Entry {
    return this.add(kp, { kind: Kind.DELETE, path }, deps);
  }
  rename(kp: KeyPair, path: string, target: string, deps?: Entry[]): Entry {
    return this.add(kp, { kind: Kind.RENAME, path, target }, deps);
  }
  grant(kp: KeyPair, to: KeyPair, path: string, deps?: Entry[]): Entry {
    return this.add(kp, { kind: Kind.GRANT, path, key: to.publicKey }, deps);
  }
  revoke(kp: KeyPair, of: KeyPair, path: string, deps?: Entry[]): Entry {
    return this.add(kp, { kind: Kind.REVOKE, path, key: of.publicKey }, deps);
  }

  state(): FsState {
    return new FsState(this.dag);
  }
}

// Feeds entries through a fresh Dag in the given order (with parking) and applies each result
// incrementally to one FsState.
export function incremental(entries: Entry[]): { dag: Dag; state: FsState } {
  const dag = new Dag();
  const state = new FsState(dag);
  for (const e of entries) {
    const r = dag.add(e);
    if (r.status === 'applied') state.apply(r.applied);
  }
  return { dag, state };
}

export function contentOf(state: FsState, path: string): string | null {
  const n = state.lookup(path);
  if (!n) return null;
  if (n.type !== 'file') return n.type;
  return Buffer.from(n.root!).toString('hex');
}

export function hasContent(state: FsState, path: string, content: string): boolean {
  const n = state.lookup(path);
  return !!n && n.type === 'file' && Buffer.compare(n.root!, rootOf(content)) === 0;
}

// Every visible path and its inode fields (for comparing two states).
export function dump(state: FsState): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const n = state.lookup(p);
    if (!n) return;
    out.push(`${p} ${n.type} ${n.mode.toString(8)} ${n.size} ${n.root ? Buffer.from(n.root).toString('hex').slice(0, 8) : ''} ${n.target} ${n.entryId.slice(0, 8)}`);
    if (n.type === 'dir') for (const c of state.readdir(p)) walk(p === '/' ? '/' + c : p + '/' + c);
  };
  walk('/');
  return out;
}

// Rule 4 of docs/AUTHORITY.md, re-derived with Dag.isAncestor (an independent causality
// oracle) from the final sets of valid grants and the revokes removing them.
export function rule4(s: FsState, dag: Dag, entries: Entry[]): (e: Entry) => boolean {
  const grants = s.grants();
  const boot = entries[0];
  const le = (a: string, b: string) => dag.isAncestor(a, b);
  const authorized = (e: Entry, path: string | null): boolean =>
    grants.some((g) =>
      Buffer.compare(g.key, e.author) === 0 && g.entryId !== e.idHex && (path === null || isUnder(path, g.path)) &&
      (g.entryId === boot.idHex || le(g.entryId, e.idHex)) && g.removedBy.every((r) => le(e.idHex, r)));
  return (e) => e.kind === Kind.SNAPSHOT ? authorized(e, null) : authorized(e, e.path) && (e.kind !== Kind.RENAME || authorized(e, e.target));
}

// Each revoke recorded as removing a grant is valid, of that key, at or above the grant's
// path, and has the grant in its causal past.
export function checkRemovals(s: FsState, dag: Dag, entries: Entry[]): void {
  for (const g of s.grants()) {
    for (const r of g.removedBy) {
      const re = entries.find((x) => x.idHex === r)!;
      assert.ok(s.isValid(r) && re.kind === Kind.REVOKE && Buffer.compare(re.key, g.key) === 0 && isUnder(g.path, re.path) && dag.isAncestor(g.entryId, r));
    }
  }
}

export function checkRule4(s: FsState, dag: Dag, entries: Entry[]): void {
  const allows = rule4(s, dag, entries);
  for (const e of entries) {
    if (e.kind === Kind.BOOTSTRAP) continue;
    // every entry, grants and revokes included: the outcome is a fixed point of rule 4
    assert.equal(s.isValid(e.idHex), allows(e), `${kindName(e.kind)} ${e.idHex.slice(0, 8)} at ${e.path}`);
  }
  checkRemovals(s, dag, entries);
}
