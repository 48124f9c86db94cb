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
import { PATHS, opArb, buildHistory } from './history-arb.ts';

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
