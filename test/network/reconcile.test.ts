import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Dag } from '../../src/log/dag.ts';
import type { Entry } from '../../src/log/entry.ts';
import { computeDiff, ArrivalIndex } from '../../src/network/reconcile.ts';
import { bootstrap, chain } from './lib/logs.ts';

const kp = generateKeyPair();

function dagOf(entries: Entry[]): Dag {
  const d = new Dag();
  for (const e of entries) {
    const r = d.add(e);
    assert.equal(r.status, 'applied');
  }
  return d;
}

// What B must send A: computeDiff on B's dag with A's summary; then check A + diff = B.
function reconcile(a: Dag, b: Dag) {
  const want = [...b.heads].filter((h) => !a.has(h));
  const have = new ArrivalIndex(a).summary();
  const diff = computeDiff(b, want, have);
  const merged = new Dag();
  for (const n of a.ordered()) merged.add(n.entry);
  for (const id of diff.ids) {
    const r = merged.add(b.get(id)!.entry);
    assert.notEqual(r.status, 'parked', 'diff must be deps-first and complete');
    assert.notEqual(r.status, 'rejected');
  }
  for (const n of b.ordered()) assert.ok(merged.has(n.entry.idHex), 'A holds all of B after applying the diff');
  return { diff, haveLen: have.length };
}

const boot = bootstrap(kp, 'rec');
const base = chain(kp, boot, [boot], 20_000, 'd');

test('one-entry difference on a 20k-entry log: the diff is that entry, little work', () => {
  const extra = chain(kp, boot, [base[base.length - 1]], 1, 'x');
  const a = dagOf([boot, ...base]);
  const b = dagOf([boot, ...base, ...extra]);
  const { diff, haveLen } = reconcile(a, b);
  assert.deepEqual(diff.ids, [extra[0].idHex]);
  assert.ok(diff.visited <= 3, `visited ${diff.visited}`);
  assert.ok(haveLen <= 20, `have summary of ${haveLen} ids`);
  // nothing to send the other way
  assert.deepEqual(computeDiff(a, [...a.heads].filter((h) => !b.has(h)), new ArrivalIndex(b).summary()).ids, []);
});

test('both sides wrote while apart (concurrent branches): diff is proportional to the branch', () => {
  const fork = base[base.length - 1];
  const ea = chain(kp, boot, [fork], 30, 'a');
  const eb = chain(kp, boot, [fork], 50, 'b');
  const a = dagOf([boot, ...base, ...ea]);
  const b = dagOf([boot, ...base, ...eb]);
  const ab = reconcile(a, b);
  // A's samples stand 1, 2, 4, ... arrivals back, so the common part B re-sends is at most
  // about as long as A's own branch
  assert.ok(ab.diff.ids.length >= 50 && ab.diff.ids.length <= 50 + 30, `sent ${ab.diff.ids.length}`);
  assert.ok(ab.diff.visited < 400, `visited ${ab.diff.visited}`);
  const ba = reconcile(b, a);
  assert.ok(ba.diff.ids.length >= 30 && ba.diff.ids.length <= 30 + 50, `sent ${ba.diff.ids.length}`);
});

test('long partition: 3000 entries behind, with merges', () => {
  const fork = base[base.length - 1];
  const eb = chain(kp, boot, [fork], 3000, 'b');
  const ea = chain(kp, boot, [fork], 3, 'a');
  const a = dagOf([boot, ...base, ...ea]);
  const b = dagOf([boot, ...base, ...eb]);
  const { diff } = reconcile(a, b);
  assert.equal(diff.ids.length, 3000);
  assert.ok(diff.visited < 3000 * 3, `visited ${diff.visited}`);
});

test('empty puller gets the whole log in stored order', () => {
  const b = dagOf([boot, ...base.slice(0, 500)]);
  const a = new Dag();
  const { diff } = reconcile(a, b);
  assert.equal(diff.ids.length, 501);
  assert.equal(diff.ids[0], boot.idHex);
});

test('partial puller (resumed get) gets exactly the rest', () => {
  const b = dagOf([boot, ...base.slice(0, 1000)]);
  const a = dagOf([boot, ...base.slice(0, 400)]);
  const { diff } = reconcile(a, b);
  assert.equal(diff.ids.length, 600);
});

test('unknown want and have ids are ignored', () => {
  const b = dagOf([boot, ...base.slice(0, 10)]);
  const bogus = 'ff'.repeat(32);
  assert.deepEqual(computeDiff(b, [bogus], [bogus]).ids, []);
});
