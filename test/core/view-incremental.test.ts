// Incremental maintenance: one new entry touches only what it must; a revoke re-evaluates only
// the affected keys and subtrees; late validity changes propagate through renames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dag } from '../../src/log/dag.ts';
import { Kind } from '../../src/log/entry.ts';
import { FsState } from '../../src/view/state.ts';
import { World, key, hasContent, incremental, rootOf } from './view-harness.ts';

test('a revoke arriving after a rename re-resolves the rename target (the source version became invalid)', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  w.grant(w.root, B, '/'); // B holds rank 0 too
  w.grant(w.root, A, '/a');
  const v1 = w.write(A, '/a/f', 'v1');
  const v2 = w.write(A, '/a/f', 'v2', [v1]);
  const rn = w.rename(w.root, '/a/f', '/b/f', [v2]); // saw v2
  const r = w.revoke(B, A, '/a', [v1]); // concurrent with v2 and with the rename
  const fresh = w.state();
  assert.equal(fresh.isValid(v2.idHex), false);
  assert.ok(fresh.isValid(rn.idHex));
  assert.ok(hasContent(fresh, '/b/f', 'v1'), 'the rename moved the last valid version');
  // incremental, with the revoke last: /b/f first shows v2, then v1
  const dag = new Dag();
  const s = new FsState(dag);
  for (const e of w.all) {
    if (e === r) continue;
    const res = dag.add(e);
    if (res.status === 'applied') s.apply(res.applied);
  }
  assert.ok(hasContent(s, '/b/f', 'v2'));
  const res = dag.add(r);
  assert.equal(res.status, 'applied');
  const changed = s.apply(res.status === 'applied' ? res.applied : []);
  assert.ok(changed.includes('/b/f'), `changed: ${changed}`);
  assert.ok(hasContent(s, '/b/f', 'v1'));
  assert.equal(s.viewDigest(), fresh.viewDigest());
  // a chain of renames also follows
  const w2 = incremental(w.all).state;
  assert.equal(w2.viewDigest(), fresh.viewDigest());
});

test('a revoke re-checks only the revoked key\'s entries under the revoked path', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  w.grant(w.root, A, '/a');
  w.grant(w.root, B, '/b');
  for (let i = 0; i < 200; i++) w.write(w.root, `/r/f${i}`, `r${i}`);
  for (let i = 0; i < 30; i++) w.write(A, `/a/f${i}`, `a${i}`);
  for (let i = 0; i < 30; i++) w.write(B, `/b/f${i}`, `b${i}`);
  const s = w.state();
  const before = s.stats.rechecked;
  const base = w.all[w.all.length - 1];
  const late = w.write(A, '/a/late', 'late', [base]);
  const r = w.revoke(w.root, A, '/a', [base]);
  const changed = s.apply([w.dag.get(late.idHex)!, w.dag.get(r.idHex)!]);
  // only A's 30 earlier entries under /a are re-checked (they stay valid: made before the revoke)
  assert.equal(s.stats.rechecked - before, 30);
  assert.deepEqual(changed, [], 'late is concurrent with the revoke: invalid, never shown');
  assert.equal(s.isValid(late.idHex), false);
  const r2 = w.revoke(w.root, A, '/');
  const changed2 = s.apply([w.dag.get(r2.idHex)!]);
  assert.deepEqual(changed2, [], 'nothing A wrote before the revokes changes');
  const after = w.write(A, '/a/after');
  s.apply([w.dag.get(after.idHex)!]);
  assert.equal(s.isValid(after.idHex), false);
  // the second revoke also removes A's grant at /a: A's 31 entries there are re-checked again,
  // none of the 200 root and 30 B entries ever are
  assert.equal(s.stats.rechecked - before, 61);
  assert.ok(hasContent(s, '/a/f3', 'a3'));
  assert.equal(s.viewDigest(), w.state().viewDigest());
});

test('per-entry work does not depend on the log size: no walks, frontier of one, few paths touched', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  w.grant(w.root, A, '/');
  w.grant(w.root, B, '/');
  const kps = [w.root, A, B];
  for (let i = 0; i < 600; i++) {
    const kp = kps[i % 3];
    const p = `/d${i % 7}/f${i % 50}`;
    if (i % 11 === 0) w.del(kp, p);
    else if (i % 13 === 0) w.rename(kp, `/d${i % 7}`, `/e${i % 5}`);
    else w.write(kp, p, `c${i}`);
  }
  const s = new FsState(new Dag());
  const dag = s.dag;
  let maxChanged = 0;
  for (const e of w.all) {
    const r = dag.add(e);
    if (r.status !== 'applied') continue;
    const changed = s.apply(r.applied);
    if (e.kind === Kind.WRITE) maxChanged = Math.max(maxChanged, changed.length);
  }
  assert.ok(maxChanged <= 4, `a write changed ${maxChanged} paths`);
  assert.equal(s.info().walks, 0);
  assert.equal(s.info().chains, 1, 'a linear log is one chain, whatever the number of writers');
  assert.equal(s.viewDigest(), w.state().viewDigest());
});

test('two writers exchanging entries with lag converge; cold start equals incremental; few chains', () => {
  const w = new World();
  const A = key(1);
  w.grant(w.root, A, '/');
  let lastR = w.all[w.all.length - 1];
  let lastA = lastR;
  for (let i = 0; i < 300; i++) {
    // each writer sees the other's entry from two rounds ago
    const seenA = lastA;
    const seenR = lastR;
    lastR = w.add(w.root, { kind: Kind.WRITE, path: `/f${i % 17}`, root: rootOf(`r${i}`), size: 1, mode: 0o644 }, i % 2 ? [lastR, seenA] : [lastR]);
    lastA = w.add(A, { kind: Kind.WRITE, path: `/f${(i * 3) % 17}`, root: rootOf(`a${i}`), size: 1, mode: 0o644 }, i % 3 ? [lastA, seenR] : [lastA]);
  }
  const fresh = w.state();
  const inc = incremental([...w.all].reverse()).state;
  assert.equal(inc.viewDigest(), fresh.viewDigest());
  let losers = 0;
  for (let i = 0; i < 17; i++) losers += fresh.losers(`/f${i}`).length;
  assert.ok(losers > 0, 'concurrent versions exist');
  assert.equal(fresh.info().walks, 0);
  assert.ok(fresh.info().chains <= 3, `chains ${fresh.info().chains}: bounded by the concurrency, not the log length`);
});

test('many writers in turn (a community of keys) stay on one chain: no fallback walks', () => {
  const w = new World();
  const keys = Array.from({ length: 150 }, (_, i) => key(10 + i));
  for (const [i, k] of keys.entries()) w.grant(w.root, k, `/u${i}`);
  for (let r = 0; r < 3; r++) for (const [i, k] of keys.entries()) w.write(k, `/u${i}/f${r}`, `${i}.${r}`);
  const s = w.state();
  assert.equal(s.info().chains, 1);
  assert.equal(s.info().walks, 0);
  assert.ok(hasContent(s, '/u149/f2', '149.2'));
});
