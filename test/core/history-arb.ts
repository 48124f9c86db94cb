// Random multi-writer histories for property tests: grants, revokes, renames, deletes,
// conflicts over a small path set (shared by the view and the stored-view properties).
import fc from 'fast-check';
import { Kind, type Entry } from '../../src/log/entry.ts';
import { createEntry } from '../../src/log/sign.ts';
import { key, rootOf } from './view-harness.ts';

export const PATHS = ['/a', '/a/b', '/a/a', '/sp ace', '/ünï', '/a/b/c', '/d', '/d/a'];
const KINDS = [Kind.WRITE, Kind.WRITE, Kind.WRITE, Kind.MKDIR, Kind.DELETE, Kind.RENAME, Kind.SYMLINK, Kind.SETATTR, Kind.GRANT, Kind.GRANT, Kind.REVOKE, Kind.REVOKE, Kind.REVOKE, Kind.SNAPSHOT];

export const opArb = fc.record({
  author: fc.constantFrom(0, 0, 1, 1, 2, 3),
  kind: fc.nat(KINDS.length - 1),
  path: fc.nat(PATHS.length - 1),
  path2: fc.nat(PATHS.length - 1),
  subject: fc.constantFrom(1, 2, 3, 3, 0),
  deps: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  recent: fc.boolean(),
  time: fc.nat(6),
  mode: fc.constantFrom(0o644, 0o600, 0o755),
});

export type HistoryOp = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

// Builds a random multi-writer DAG: random deps among existing entries (biased to recent ones so
// that chains and concurrency both occur), random ops over a small path set.
export function buildHistory(ops: HistoryOp[]): Entry[] {
  const boot = createEntry(key(0), { kind: Kind.BOOTSTRAP, path: '/', name: 'prop', time: 0 });
  const all: Entry[] = [boot];
  let t = 1;
  // A few grants up front so that most keys hold some authority: key 1 at /a, key 2 at /,
  // key 3 at /a/b (by key 1).
  const g1 = createEntry(key(0), { kind: Kind.GRANT, path: '/a', key: key(1).publicKey, fsId: boot.id, deps: [boot.id], time: t++ });
  const g2 = createEntry(key(0), { kind: Kind.GRANT, path: '/', key: key(2).publicKey, fsId: boot.id, deps: [g1.id], time: t++ });
  const g3 = createEntry(key(1), { kind: Kind.GRANT, path: '/a/b', key: key(3).publicKey, fsId: boot.id, deps: [g2.id], time: t++ });
  all.push(g1, g2, g3);
  for (const op of ops) {
    const kp = key(op.author);
    const n = all.length;
    const deps = new Set<Entry>();
    for (const d of op.deps) deps.add(op.recent ? all[n - 1 - (d % Math.min(n, 4))] : all[d % n]);
    const path = PATHS[op.path];
    const kind = KINDS[op.kind];
    const base = { fsId: boot.id, deps: [...deps].map((e) => e.id), time: t + op.time };
    t++;
    let e: Entry;
    try {
      switch (kind) {
        case Kind.WRITE:
          e = createEntry(kp, { ...base, kind, path, root: rootOf(`${t}`), size: t, mode: op.mode, mtime: t });
          break;
        case Kind.MKDIR:
          e = createEntry(kp, { ...base, kind, path, mode: op.mode });
          break;
        case Kind.DELETE:
          e = createEntry(kp, { ...base, kind, path });
          break;
        case Kind.RENAME:
          e = createEntry(kp, { ...base, kind, path, target: PATHS[op.path2] });
          break;
        case Kind.SYMLINK:
          e = createEntry(kp, { ...base, kind, path, target: `../t${t}` });
          break;
        case Kind.SETATTR:
          e = createEntry(kp, { ...base, kind, path, mode: op.mode, mtime: t });
          break;
        case Kind.GRANT:
        case Kind.REVOKE:
          e = createEntry(kp, { ...base, kind, path: op.path2 % 3 === 0 ? '/' : path, key: key(op.subject).publicKey });
          break;
        default:
          e = createEntry(kp, { ...base, kind: Kind.SNAPSHOT, path: '/', name: `s${t % 3}` });
      }
    } catch {
      // structurally impossible (e.g. rename into itself): a write instead
      e = createEntry(kp, { ...base, kind: Kind.WRITE, path, root: rootOf(`${t}`), size: 1, mode: 0o644, mtime: t });
    }
    all.push(e);
  }
  return all;
}
