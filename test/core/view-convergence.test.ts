// Property: whatever order entries arrive in (parking included), applying them incrementally
// gives exactly the state a fresh FsState computes over the full Dag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Kind, type Entry } from '../../src/log/entry.ts';
import { Dag } from '../../src/log/dag.ts';
import { FsState } from '../../src/view/state.ts';
import { CausalIndex, type CNode } from '../../src/log/causal.ts';
import { createEntry } from '../../src/log/sign.ts';
import { key, rootOf, dump, checkRule4 } from './view-harness.ts';

const PATHS = ['/a', '/a/b', '/a/a', '/sp ace', '/ünï', '/a/b/c', '/d', '/d/a'];
const KINDS = [Kind.WRITE, Kind.WRITE, Kind.WRITE, Kind.MKDIR, Kind.DELETE, Kind.RENAME, Kind.SYMLINK, Kind.SETATTR, Kind.GRANT, Kind.GRANT, Kind.REVOKE, Kind.REVOKE, Kind.REVOKE, Kind.SNAPSHOT];

const opArb = fc.record({
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

type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

// Builds a random multi-writer DAG: random deps among existing entries (biased to recent ones so
// that chains and concurrency both occur), random ops over a small path set.
export function buildHistory(ops: Op[]): Entry[] {
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

function fingerprintState(s: FsState, entries: Entry[]): string {
  const valid = entries.map((e) => (s.isValid(e.idHex) ? '1' : '0')).join('');
  const paths = new Set<string>(PATHS);
  for (const p of PATHS) for (const q of PATHS) if (q.startsWith(p + '/')) paths.add(q);
  const extra: string[] = [];
  for (const p of [...paths, '/x', '/t']) {
    extra.push(p + ':' + s.losers(p).map((v) => v.entry.idHex.slice(0, 6)).sort().join(','));
    extra.push(p + ':' + s.history(p).map((v) => `${v.entry.idHex.slice(0, 6)}${v.winner ? '*' : ''}${v.valid ? '' : '!'}${v.why.slice(0, 40)}`).join(','));
  }
  const grants = s.grants().map((g) => `${g.entryId.slice(0, 6)}${g.revokedBy?.slice(0, 6) ?? ''}`).join(',');
  const snaps = s.snapshots().map((x) => x.label + x.entryId.slice(0, 6)).join(',');
  return [s.viewDigest(), valid, dump(s).join('|'), extra.join('|'), grants, snaps].join('\n');
}

function applyInOrder(order: Entry[], batches: number[]): FsState {
  const dag = new Dag();
  const st = new FsState(dag);
  let pending: import('../../src/log/dag.ts').DagNode[] = [];
  let bi = 0;
  for (const e of order) {
    const r = dag.add(e);
    if (r.status === 'applied') pending.push(...r.applied);
    if (pending.length >= (batches[bi % batches.length] ?? 1)) {
      st.apply(pending);
      pending = [];
      bi++;
    }
  }
  st.apply(pending);
  return st;
}

test('every delivery order (incremental apply, parking, batches) converges to the fresh state', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 28 }), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), (ops, seeds, batches) => {
      const entries = buildHistory(ops);
      const full = new Dag();
      for (const e of entries) full.add(e);
      const fresh = new FsState(full);
      const want = fingerprintState(fresh, entries);
      for (const seed of seeds) {
        // deterministic shuffle from the seed
        const order = [...entries];
        let x = seed + 1;
        for (let i = order.length - 1; i > 0; i--) {
          x = (x * 1103515245 + 12345) % 2147483648;
          const j = x % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        const inc = applyInOrder(order, [1]);
        assert.equal(fingerprintState(inc, entries), want);
        const batched = applyInOrder(order, batches);
        assert.equal(batched.viewDigest(), fresh.viewDigest());
      }
      assert.equal(fresh.info().walks, 0, 'no fallback walks below the chain cap');
      // The winner of every path is valid and in no other valid version's causal past.
      for (const p of PATHS) {
        const h = fresh.history(p);
        const w = h.find((v) => v.winner && v.entry.kind !== Kind.SETATTR);
        if (!w) continue;
        assert.ok(w.valid);
        for (const v of h) {
          if (v === w || !v.valid || v.entry.idHex === w.entry.idHex || v.entry.kind === Kind.SETATTR) continue;
          assert.ok(!full.isAncestor(w.entry.idHex, v.entry.idHex), `winner ${w.entry.idHex.slice(0, 8)} at ${p} is in the past of ${v.entry.idHex.slice(0, 8)}`);
        }
      }
    }),
    { numRuns: Number(process.env.PROP_RUNS ?? 150) },
  );
});

test('validity follows rule 4 exactly (checked against Dag.isAncestor)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
      const entries = buildHistory(ops);
      const dag = new Dag();
      for (const e of entries) dag.add(e);
      checkRule4(new FsState(dag), dag, entries);
    }),
    { numRuns: Number(process.env.PROP_RUNS ?? 150) },
  );
});

test('with the chain cap reached (walk fallback), results are the same', () => {
  const saved = CausalIndex.defaultMaxChains;
  try {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 24 }), fc.integer({ min: 1, max: 3 }), fc.nat(), (ops, cap, seed) => {
        const entries = buildHistory(ops);
        const full = new Dag();
        for (const e of entries) full.add(e);
        CausalIndex.defaultMaxChains = saved;
        const want = fingerprintState(new FsState(full), entries);
        CausalIndex.defaultMaxChains = cap;
        const order = [...entries];
        let x = seed + 1;
        for (let i = order.length - 1; i > 0; i--) {
          x = (x * 1103515245 + 12345) % 2147483648;
          const j = x % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        assert.equal(fingerprintState(new FsState(full), entries), want);
        assert.equal(fingerprintState(applyInOrder(order, [1]), entries), want);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 60) },
    );
  } finally {
    CausalIndex.defaultMaxChains = saved;
  }
});

test('causal index answers a <= b exactly like Dag.isAncestor (forks, merges, chain cap)', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ author: fc.nat(3), deps: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), untracked: fc.boolean() }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 6 }), (specs, cap) => {
      const dag = new Dag();
      const boot = createEntry(key(0), { kind: Kind.BOOTSTRAP, path: '/', name: 'c', time: 0 });
      dag.add(boot);
      const entries = [boot];
      for (const s of specs) {
        const deps = [...new Set(s.deps.map((d) => entries[d % entries.length]))];
        const e = createEntry(key(s.author), { kind: Kind.WRITE, path: '/f', root: rootOf('x'), fsId: boot.id, deps: deps.map((d) => d.id), time: entries.length });
        dag.add(e);
        entries.push(e);
      }
      const ci = new CausalIndex();
      ci.maxChains = cap;
      const nodes = new Map<string, CNode>();
      let i = 0;
      for (const n of dag.ordered()) {
        const deps = n.entry.deps.map((d) => nodes.get(Buffer.from(d).toString('hex'))!);
        const c: CNode = { idx: i, entry: n.entry, height: n.height, deps, vc: [], chain: -1, pos: -1 };
        ci.place(c, Buffer.from(n.entry.author).toString('hex'), !(specs[i - 1]?.untracked ?? false));
        nodes.set(n.entry.idHex, c);
        i++;
      }
      for (const a of nodes.values()) for (const b of nodes.values()) assert.equal(ci.le(a, b), dag.isAncestor(a.entry.idHex, b.entry.idHex));
    }),
    { numRuns: 120 },
  );
});
