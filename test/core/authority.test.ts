// Authority rules (docs/AUTHORITY.md): grants, ranks, revokes, partitions, canWrite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kind, type Entry } from '../../src/log/entry.ts';
import { fingerprint } from '../../src/crypto/keys.ts';
import { FsState } from '../../src/view/state.ts';
import { World, key, hasContent, incremental, checkRule4 } from './view-harness.ts';

// Every delivery order we try must agree with the fresh state on validity and digest.
function allOrdersAgree(w: World, extraOrders = 6): FsState {
  const fresh = w.state();
  const orders: Entry[][] = [[...w.all].reverse(), [...w.all]];
  let x = 7;
  for (let k = 0; k < extraOrders; k++) {
    const o = [...w.all];
    for (let i = o.length - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const j = x % (i + 1);
      [o[i], o[j]] = [o[j], o[i]];
    }
    orders.push(o);
  }
  for (const o of orders) {
    const { state } = incremental(o);
    assert.equal(state.viewDigest(), fresh.viewDigest());
    for (const e of w.all) assert.equal(state.isValid(e.idHex), fresh.isValid(e.idHex), `validity of ${e.idHex.slice(0, 8)}`);
  }
  return fresh;
}

test('the bootstrap key holds / at rank 0; others hold nothing until granted', () => {
  const w = new World();
  const A = key(1);
  const s = w.state();
  assert.deepEqual(s.canWrite(w.root.publicKey, '/anything/deep'), { ok: true, rank: 0 });
  assert.equal(s.rankOf(w.root.publicKey, '/'), 0);
  assert.equal(s.rankOf(A.publicKey, '/x'), null);
  const g = s.grants();
  assert.equal(g.length, 1);
  assert.equal(g[0].path, '/');
  assert.equal(g[0].rank, 0);
  assert.equal(g[0].entryId, w.boot.idHex);
  const e = w.write(A, '/x');
  const s2 = w.state();
  assert.equal(s2.isValid(e.idHex), false);
  assert.equal(s2.lookup('/x'), null);
  assert.match(s2.history('/x')[0].why, /unauthorized: key [0-9a-f]{16} has no grant at \/x/);
});

test('a grant is valid only where its author is authorized; rank is the depth of the shallowest covering grant', () => {
  const w = new World();
  const [A, B, C] = [key(1), key(2), key(3)];
  w.grant(w.root, A, '/a');
  const bad = w.grant(A, B, '/b'); // A has no authority at /b
  const good = w.grant(A, B, '/a/x/y');
  w.grant(A, C, '/a/x');
  w.grant(w.root, C, '/a/x/y/z'); // deeper grant: does not weaken C's rank 2 below /a/x
  const s = allOrdersAgree(w);
  assert.equal(s.isValid(bad.idHex), false);
  assert.equal(s.isValid(good.idHex), true);
  assert.equal(s.rankOf(A.publicKey, '/a/q'), 1);
  assert.equal(s.rankOf(B.publicKey, '/a/x/y/f'), 3);
  assert.equal(s.rankOf(B.publicKey, '/b/f'), null);
  assert.equal(s.rankOf(C.publicKey, '/a/x/y/z/w'), 2);
  assert.equal(s.rankOf(A.publicKey, '/a'), 1);
  assert.equal(s.rankOf(A.publicKey, '/ab'), null, 'a grant at /a does not cover /ab');
  assert.deepEqual(s.grants('/a/x').map((g) => g.path), ['/', '/a', '/a/x', '/a/x/y', '/a/x/y/z']);
});

test('a grant must be in the causal past of the entry it authorizes', () => {
  const w = new World();
  const A = key(1);
  const before = w.write(A, '/a/f', 'early', [w.boot]); // written before (concurrently with) the grant
  w.grant(w.root, A, '/a', [w.boot]);
  const after = w.write(A, '/a/g', 'later');
  const s = allOrdersAgree(w);
  assert.equal(s.isValid(before.idHex), false);
  assert.equal(s.isValid(after.idHex), true);
});

test('revoke: writes in the revoke\'s causal past stay; later and concurrent ones are excluded', () => {
  const w = new World();
  const A = key(1);
  w.grant(w.root, A, '/a');
  const w1 = w.write(A, '/a/f1', 'one');
  const r = w.revoke(w.root, A, '/a'); // has w1 in its past
  const w2 = w.write(A, '/a/f2', 'two'); // after the revoke
  const s = allOrdersAgree(w);
  assert.ok(s.isValid(w1.idHex));
  assert.ok(hasContent(s, '/a/f1', 'one'));
  assert.equal(s.isValid(w2.idHex), false);
  assert.equal(s.lookup('/a/f2'), null);
  assert.match(s.history('/a/f2')[0].why, new RegExp(`revoked by ${r.idHex.slice(0, 8)}`));
  assert.equal(s.canWrite(A.publicKey, '/a/f3').ok, false);
  assert.equal(s.grants().find((g) => g.path === '/a')!.revokedBy, r.idHex);
});

test('revoke across a partition: the revoked side\'s concurrent writes and grants are excluded after the merge', () => {
  const w = new World();
  const [A, C] = [key(1), key(2)];
  const g = w.grant(w.root, A, '/a');
  const seen = w.write(A, '/a/seen', 'seen'); // both sides have this
  // partition: A keeps writing (and grants C) without seeing the revoke; root revokes A.
  const p1 = w.write(A, '/a/p1', 'p1', [seen]);
  const gc = w.grant(A, C, '/a/c', [p1]);
  const c1 = w.write(C, '/a/c/x', 'cx', [gc]);
  const r = w.revoke(w.root, A, '/a', [seen]);
  const rootWrite = w.write(w.root, '/a/r', 'root', [r]);
  // merge
  const m = w.write(w.root, '/a/merged', 'm', [c1, rootWrite]);
  const s = allOrdersAgree(w);
  assert.ok(s.isValid(g.idHex));
  assert.ok(s.isValid(seen.idHex), 'made before the revoke: stays');
  for (const e of [p1, gc, c1]) assert.equal(s.isValid(e.idHex), false, `concurrent with the revoke: ${e.kind}`);
  assert.ok(s.isValid(m.idHex));
  assert.ok(hasContent(s, '/a/seen', 'seen'));
  assert.equal(s.lookup('/a/p1'), null);
  assert.equal(s.lookup('/a/c/x'), null);
  assert.equal(s.rankOf(C.publicKey, '/a/c/x'), null, 'the grant made by the revoked key during the partition is void');
  // the partition side alone (before the merge) still shows A's writes
  const part = FsState.atHeads(w.dag, [c1.idHex]);
  assert.ok(hasContent(part, '/a/c/x', 'cx'));
  assert.ok(hasContent(part, '/a/p1', 'p1'));
});

test('a write concurrent with a revoke is excluded even when it arrives long before the revoke', () => {
  const w = new World();
  const A = key(1);
  w.grant(w.root, A, '/a');
  const base = w.write(A, '/a/base');
  const conc = w.write(A, '/a/f', 'concurrent', [base]);
  const r = w.revoke(w.root, A, '/a', [base]);
  const { state } = incremental([...w.all]); // conc applied and shown first, then the revoke
  assert.equal(state.isValid(conc.idHex), false);
  assert.equal(state.lookup('/a/f'), null);
  assert.ok(state.isValid(base.idHex));
  assert.ok(state.isValid(r.idHex));
});

test('a key cannot revoke a stronger or equal grant unless it made that grant', () => {
  const w = new World();
  const [A, B, C, D] = [key(1), key(2), key(3), key(4)];
  w.grant(w.root, A, '/a');
  w.grant(w.root, B, '/a');
  const rAB = w.revoke(A, B, '/a'); // equal rank, root made it: no effect
  const bw = w.write(B, '/a/b-still-writes');
  w.grant(A, D, '/a'); // equal rank, made by A
  w.grant(A, C, '/a/c');
  const rBD = w.revoke(B, D, '/a'); // equal rank, not B's grant: no effect
  const dw = w.write(D, '/a/d1');
  const rBC = w.revoke(B, C, '/a/c'); // B (rank 1) is strictly stronger than C's grant (rank 2)
  const rAD = w.revoke(A, D, '/a'); // A made D's grant
  const cw = w.write(C, '/a/c/late');
  const dw2 = w.write(D, '/a/d2');
  const rCroot = w.revoke(B, w.root, '/a'); // nobody removes the bootstrap key
  const rootw = w.write(w.root, '/a/root-ok');
  const s = allOrdersAgree(w);
  assert.ok(s.isValid(rAB.idHex), 'the revoke itself is a valid entry...');
  assert.ok(s.isValid(bw.idHex), '...but it removes nothing');
  assert.ok(s.isValid(rBD.idHex));
  assert.ok(s.isValid(dw.idHex));
  assert.ok(s.isValid(rBC.idHex));
  assert.equal(s.isValid(cw.idHex), false);
  assert.ok(s.isValid(rAD.idHex));
  assert.equal(s.isValid(dw2.idHex), false);
  assert.ok(s.isValid(rCroot.idHex));
  assert.ok(s.isValid(rootw.idHex));
  assert.equal(s.rankOf(B.publicKey, '/a/x'), 1);
  assert.equal(s.rankOf(D.publicKey, '/a/x'), null);
  assert.equal(s.rankOf(C.publicKey, '/a/c'), null);
  assert.equal(s.rankOf(w.root.publicKey, '/a'), 0);
});

test('a revoke removes only grants at or under its path and in its causal past; a later regrant works', () => {
  const w = new World();
  const A = key(1);
  w.grant(w.root, A, '/a');
  w.grant(w.root, A, '/a/b/c');
  w.revoke(w.root, A, '/a/b'); // removes /a/b/c only; /a still covers /a/b
  let s = w.state();
  assert.equal(s.rankOf(A.publicKey, '/a/b/c/d'), 1);
  w.revoke(w.root, A, '/');
  s = w.state();
  assert.equal(s.rankOf(A.publicKey, '/a'), null);
  const regrant = w.grant(w.root, A, '/a/b');
  const after = w.write(A, '/a/b/x');
  s = allOrdersAgree(w);
  assert.ok(s.isValid(regrant.idHex));
  assert.ok(s.isValid(after.idHex));
  assert.equal(s.rankOf(A.publicKey, '/a/b/q'), 2);
});

test('a grant concurrent with a revoke is not removed by it', () => {
  const w = new World();
  const A = key(1);
  const g1 = w.grant(w.root, A, '/a');
  const r = w.revoke(w.root, A, '/a', [g1]);
  const g2 = w.grant(w.root, A, '/a', [g1]); // concurrent regrant
  const x = w.write(A, '/a/x', 'x', [r, g2]);
  const s = allOrdersAgree(w);
  assert.ok(s.isValid(g2.idHex));
  assert.ok(s.isValid(x.idHex), 'authorized by the concurrent regrant');
});

test('mutual revocation (a cycle) resolves deterministically: exactly one side wins, in every order', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  const gA1 = w.grant(w.root, A, '/m');
  const gB = w.grant(A, B, '/m'); // made by A
  const gA2 = w.grant(B, A, '/m'); // made by B
  const r0 = w.revoke(w.root, A, '/m', [gB]); // removes gA1 only (gA2 is not in its past)
  const base = w.write(w.root, '/m/base', 'base', [r0, gA2]);
  const rA = w.revoke(A, B, '/m', [base]); // A removes gB (its own grant)
  const rB = w.revoke(B, A, '/m', [base]); // B removes gA2 (its own grant)
  const s = allOrdersAgree(w, 10);
  assert.ok(s.isValid(gA2.idHex));
  assert.notEqual(s.isValid(rA.idHex), s.isValid(rB.idHex), 'one revoke wins');
  const winnerIsA = s.isValid(rA.idHex);
  // The winner is the earlier in (height, id) order: both have the same height here.
  assert.equal(winnerIsA, rA.idHex < rB.idHex);
  assert.equal(s.rankOf(winnerIsA ? A.publicKey : B.publicKey, '/m/x'), 1);
  assert.equal(s.rankOf(winnerIsA ? B.publicKey : A.publicKey, '/m/x'), null);
  assert.equal(gA1.kind, Kind.GRANT);
  checkRule4(s, w.dag, w.all); // the chosen outcome is a fixed point of rule 4
});

test('a revoked key\'s concurrent revoke does not stand', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  w.grant(w.root, A, '/a');
  const gB = w.grant(A, B, '/a/b');
  // partition: A revokes B (its own grant) while root revokes A
  const rAB = w.revoke(A, B, '/a/b', [gB]);
  const rRootA = w.revoke(w.root, A, '/a', [gB]);
  const bw = w.write(B, '/a/b/file', 'b', [rRootA]);
  const s = allOrdersAgree(w);
  assert.ok(s.isValid(rRootA.idHex));
  assert.equal(s.isValid(rAB.idHex), false, 'made concurrently with A\'s revocation');
  assert.ok(s.isValid(bw.idHex), 'so B keeps its grant (made by A before A was revoked)');
});

test('canWrite reasons name the key, the path and the nearest grant', () => {
  const w = new World();
  const [A, B, C] = [key(1), key(2), key(3)];
  w.grant(w.root, A, '/etc/bird');
  w.grant(w.root, A, '/home/a');
  w.grant(w.root, B, '/srv');
  const r = w.revoke(w.root, B, '/srv');
  const s = w.state();
  const a = s.canWrite(A.publicKey, '/etc/nginx/x.conf');
  assert.equal(a.ok, false);
  if (!a.ok) {
    assert.ok(a.reason.includes(fingerprint(A.publicKey)));
    assert.ok(a.reason.includes('/etc/nginx/x.conf'));
    assert.ok(a.reason.includes('nearest grant is at /etc/bird'), a.reason);
  }
  const b = s.canWrite(B.publicKey, '/srv/www');
  assert.equal(b.ok, false);
  if (!b.ok) assert.ok(b.reason.includes(`was revoked by ${r.idHex.slice(0, 8)}`) && b.reason.includes('/srv'), b.reason);
  const c = s.canWrite(C.publicKey, '/x');
  assert.equal(c.ok, false);
  if (!c.ok) assert.ok(c.reason.includes(fingerprint(C.publicKey)) && c.reason.includes('/x') && c.reason.includes('holds no grant'), c.reason);
  assert.deepEqual(s.canWrite(A.publicKey, '/etc/bird/bird.conf'), { ok: true, rank: 2 });
});

test('invalid entries are kept in history with the reason but never affect the view', () => {
  const w = new World();
  const A = key(1);
  w.write(w.root, '/f', 'good');
  const bad = w.write(A, '/f', 'evil');
  const badDel = w.del(A, '/f');
  const s = w.state();
  assert.ok(hasContent(s, '/f', 'good'));
  const h = s.history('/f');
  assert.equal(h.length, 3);
  for (const e of [bad, badDel]) {
    const v = h.find((x) => x.entry.idHex === e.idHex)!;
    assert.equal(v.valid, false);
    assert.equal(v.rank, null);
    assert.match(v.why, /^unauthorized/);
    assert.equal(s.isValid(e.idHex), false);
  }
  assert.deepEqual(s.losers('/f'), []);
});

test('snapshot entries need some authority; labels list valid ones', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  w.grant(w.root, A, '/home/a');
  w.write(w.root, '/f', 'v1');
  const s1 = w.add(A, { kind: Kind.SNAPSHOT, path: '/', name: 'daily' });
  const bad = w.add(B, { kind: Kind.SNAPSHOT, path: '/', name: 'evil' });
  w.write(w.root, '/f', 'v2');
  const s = w.state();
  assert.deepEqual(s.snapshots().map((x) => x.label), ['daily']);
  assert.equal(s.isValid(bad.idHex), false);
  const snap = s.snapshots()[0];
  assert.equal(snap.entryId, s1.idHex);
  const past = FsState.atHeads(w.dag, snap.heads);
  assert.ok(hasContent(past, '/f', 'v1'));
  assert.ok(hasContent(s, '/f', 'v2'));
  assert.throws(() => past.apply([]), /read-only/);
});
