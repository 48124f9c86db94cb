// Revocation cycles (docs/AUTHORITY.md rule 8). Keys that granted each other rights and then
// revoke each other concurrently form a cycle. An odd cycle has no fixed point of rule 4 at
// all (if A's revoke stands, B's falls, C's stands, so A's falls...), so the documented
// promise is: the outcome is deterministic (the same for every arrival order); every valid
// entry satisfies rule 4 against the final valid grants and revokes; an entry that rule 4
// alone would allow is invalid only if it is a GRANT or REVOKE the evaluation forced invalid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Kind, kindName, type Entry } from '../../src/log/entry.ts';
import { FsState } from '../../src/view/state.ts';
import { World, key, incremental, rule4, checkRemovals } from './view-harness.ts';

function shuffled(entries: Entry[], seed: number): Entry[] {
  const o = [...entries];
  let x = seed + 1;
  for (let i = o.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = x % (i + 1);
    [o[i], o[j]] = [o[j], o[i]];
  }
  return o;
}

// Exactly what the doc says, for one history.
function checkDocumented(w: World, seeds: number[]): FsState {
  const s = w.state();
  for (const seed of seeds) {
    const { state } = incremental(shuffled(w.all, seed));
    assert.equal(state.viewDigest(), s.viewDigest(), `arrival order ${seed}: same view`);
    for (const e of w.all) assert.equal(state.isValid(e.idHex), s.isValid(e.idHex), `arrival order ${seed}: validity of ${e.idHex.slice(0, 8)}`);
  }
  const allows = rule4(s, w.dag, w.all);
  const forced = new Set(s.forcedInvalid());
  for (const e of w.all) {
    if (e.kind === Kind.BOOTSTRAP) continue;
    const what = `${kindName(e.kind)} ${e.idHex.slice(0, 8)} at ${e.path}`;
    if (s.isValid(e.idHex)) assert.ok(allows(e), `${what} is valid but rule 4 refuses it`);
    else if (allows(e)) assert.ok((e.kind === Kind.GRANT || e.kind === Kind.REVOKE) && forced.has(e.idHex), `${what} is invalid though rule 4 allows it and it was not forced`);
  }
  checkRemovals(s, w.dag, w.all);
  return s;
}

test('a three-way revocation cycle: deterministic over 40 arrival orders, not a fixed point of rule 4', () => {
  const w = new World();
  const [A, B, C] = [key(1), key(2), key(3)];
  w.grant(w.root, A, '/m');
  const gB = w.grant(A, B, '/m');
  w.grant(B, C, '/m');
  w.grant(C, A, '/m'); // A's second grant, made by C
  const r0 = w.revoke(w.root, A, '/m', [gB]); // removes only the root's grant of A
  const base = w.write(w.root, '/m/base', 'base');
  void r0;
  const rs = [w.revoke(A, B, '/m', [base]), w.revoke(B, C, '/m', [base]), w.revoke(C, A, '/m', [base])];
  const s = checkDocumented(w, Array.from({ length: 40 }, (_, i) => i));
  const allows = rule4(s, w.dag, w.all);
  // Not a fixed point: some revoke is invalid although, against the final outcome, rule 4
  // would allow it (and no outcome could be a fixed point: the cycle is odd).
  const off = rs.filter((r) => s.isValid(r.idHex) !== allows(r));
  assert.ok(off.length > 0, 'the outcome happens to be a fixed point');
  for (const r of off) assert.ok(!s.isValid(r.idHex) && s.forcedInvalid().includes(r.idHex));
});

// Random histories built to contain cycles: keys granted at /m by the root and by each other,
// a root revoke concurrent with some of those grants, then revokes among the keys that are
// concurrent with each other (or follow one another), and writes.
const histArb = fc.record({
  n: fc.constantFrom(2, 3, 4, 4),
  // a ring of grants K0 -> K1 -> ... -> K0 and of concurrent revokes around it (a cycle)
  ring: fc.option(fc.record({ len: fc.constantFrom(2, 3, 3, 4), revokes: fc.boolean(), cutRoot: fc.boolean() }), { freq: 4 }),
  rootGrants: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  cross: fc.array(fc.record({ from: fc.nat(3), to: fc.nat(3), deep: fc.boolean() }), { maxLength: 7 }),
  rootRevoke: fc.option(fc.record({ of: fc.nat(3), cut: fc.nat() })),
  revokes: fc.array(fc.record({ by: fc.nat(4), of: fc.nat(3), deep: fc.boolean(), after: fc.nat(6) }), { maxLength: 6 }),
  writes: fc.array(fc.record({ by: fc.nat(4), after: fc.nat(6) }), { maxLength: 4 }),
});

test('revocation cycles in random histories: deterministic, valid entries obey rule 4, only forced GRANT/REVOKEs deviate', () => {
  let deviating = 0;
  fc.assert(
    fc.property(histArb, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (h, seeds) => {
      const w = new World();
      const K = [1, 2, 3, 4].slice(0, h.n).map((i) => key(i));
      const pre: Entry[] = [];
      const ring = h.ring ? Math.min(h.ring.len, h.n) : 0;
      for (let i = 0; i < h.n; i++) if (i === 0 || (h.rootGrants[i] && !(h.ring?.cutRoot && i < ring))) pre.push(w.grant(w.root, K[i], '/m'));
      let rootCut: Entry | null = null;
      for (let i = 0; i < ring; i++) {
        // cutRoot: the root revokes K0's own grant before the ring closes, so K0 is left with
        // only the grant the ring gives it back (as in the three-way example above)
        if (i === ring - 1 && h.ring!.cutRoot) rootCut = w.revoke(w.root, K[0], '/m', [pre[pre.length - 1]]);
        pre.push(w.grant(K[i], K[(i + 1) % ring], '/m', rootCut ? [pre[pre.length - 1]] : undefined));
      }
      for (const c of h.cross) pre.push(w.grant(K[c.from % h.n], K[c.to % h.n], c.deep ? '/m/x' : '/m'));
      if (h.rootRevoke && pre.length) w.revoke(w.root, K[h.rootRevoke.of % h.n], '/m', [pre[h.rootRevoke.cut % pre.length]]);
      const base = w.write(w.root, '/m/base', 'base');
      const revs: Entry[] = [];
      const by = (i: number) => (i === 0 ? w.root : K[(i - 1) % h.n]);
      if (h.ring?.revokes) for (let i = 0; i < ring; i++) revs.push(w.revoke(K[i], K[(i + 1) % ring], '/m', [base]));
      for (const r of h.revokes) {
        const after = r.after % (revs.length + 1);
        revs.push(w.revoke(by(r.by), K[r.of % h.n], r.deep ? '/m/x' : '/m', [after === 0 ? base : revs[after - 1]]));
      }
      h.writes.forEach((x, i) => {
        const after = x.after % (revs.length + 1);
        w.write(by(x.by), `/m/x/f${i}`, `w${i}`, [after === 0 ? base : revs[after - 1]]);
      });
      const s = checkDocumented(w, seeds);
      const allows = rule4(s, w.dag, w.all);
      if (w.all.some((e) => e.kind !== Kind.BOOTSTRAP && s.isValid(e.idHex) !== allows(e))) deviating++;
    }),
    { numRuns: Number(process.env.PROP_RUNS ?? 300) },
  );
  // The generator does reach histories that are not fixed points (odd cycles).
  if (process.env.SHOW_DEVIATING) console.log('deviating', deviating);
  assert.ok(deviating > 0, 'no generated history deviated from rule 4; the property tested nothing beyond it');
});
