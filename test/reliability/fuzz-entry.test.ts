// Fuzzing the entry decoder and the causal DAG: random bytes, mutated valid entries and
// attacker-chosen fields with a valid signature. Never a crash (only DecodeError), never an
// entry accepted that its author did not sign, exactly the documented rules enforced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeEntry, encodeBody, assemble, DecodeError } from '../../src/log/codec.ts';
import { verifyEntry, createEntry } from '../../src/log/sign.ts';
import { signBytes, generateKeyPair } from '../../src/crypto/keys.ts';
import { Dag } from '../../src/log/dag.ts';
import { Kind, LIMITS, type Entry } from '../../src/log/entry.ts';
import { sha256, toHex } from '../../src/crypto/hash.ts';
import { budget, Recorder } from './lib/results.ts';
import { mutate, mutationsArb, Tally } from './lib/mutate.ts';
import { validEntryArb, rawFieldsArb, oracle, KP } from './lib/entries.ts';

const rec = new Recorder(import.meta.url);

function classify(b: Uint8Array, original?: Entry): string {
  let e: Entry;
  try {
    e = decodeEntry(b);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw new Error(`decoder threw a non-DecodeError: ${(err as Error).stack}`);
    return 'decode error';
  }
  // Decoded: must be canonical (one byte string per entry).
  assert.deepEqual(Buffer.from(encodeBody(e)), Buffer.from(e.body), 'decoded entry re-encodes to its own bytes');
  assert.equal(toHex(sha256(b)), e.idHex);
  if (original && Buffer.compare(b, original.bytes) === 0) return verifyEntry(e) ? 'unchanged' : 'BUG';
  if (verifyEntry(e)) return 'FORGED';
  return 'decodes, bad signature';
}

test('random bytes never crash the decoder and never verify', () => {
  const n = budget(3000, 100_000);
  const t = new Tally();
  fc.assert(fc.property(fc.oneof({ weight: 10, arbitrary: fc.uint8Array({ maxLength: 300 }) }, { weight: 5, arbitrary: fc.uint8Array({ minLength: 90, maxLength: 2000 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 16_000, maxLength: 17_000 }) }), (b) => {
    const c = classify(b);
    t.add(c);
    assert.notEqual(c, 'FORGED');
  }), { numRuns: n });
  rec.row({ section: 'fuzz', what: 'entry decoder: random byte strings (0-17,000 bytes)', cases: n, outcome: t.toString(), ok: true });
});

test('mutated valid entries: decode error or bad signature, never accepted', () => {
  const n = budget(4000, 200_000);
  const t = new Tally();
  fc.assert(fc.property(validEntryArb, validEntryArb, mutationsArb, (e, donor, ms) => {
    const b = mutate(e.bytes, ms, donor.bytes);
    const c = classify(b, e);
    t.add(c);
    assert.ok(c !== 'FORGED' && c !== 'BUG', `mutation accepted: ${JSON.stringify(ms)}`);
  }), { numRuns: n });
  rec.row({ section: 'fuzz', what: 'entry decoder: valid entries of every kind with 1-4 byte mutations (bit flip, byte set, insert, delete, truncate, duplicate, splice from another entry, varint overflow, extend)', cases: n, outcome: t.toString(), ok: true });
});

test('attacker-chosen fields with a valid signature: decoded exactly when the documented rules allow', () => {
  const n = budget(4000, 100_000);
  const t = new Tally();
  fc.assert(fc.property(rawFieldsArb, (f) => {
    let body: Uint8Array;
    try {
      body = encodeBody(f);
    } catch {
      t.add('not encodable');
      return;
    }
    const e = assemble(f, body, signBytes(KP.privateKey, body));
    // Strings go on the wire as UTF-8: a lone surrogate becomes U+FFFD there, so the rules
    // apply to what the bytes say.
    const wire = (x: string) => Buffer.from(x, 'utf8').toString('utf8');
    f = { ...f, path: wire(f.path), target: wire(f.target), name: wire(f.name) };
    const want = e.bytes.length > LIMITS.maxEntryBytes ? 'size' : oracle(f);
    let got: string | null = null;
    try {
      const d = decodeEntry(e.bytes);
      assert.ok(verifyEntry(d));
      assert.equal(d.path, f.path);
      assert.equal(d.target, f.target);
      assert.equal(d.kind, f.kind);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      got = err.message;
    }
    t.add(want === null ? 'accepted (valid)' : `rejected (${want})`);
    if (want === null) assert.equal(got, null, `valid fields rejected: ${got}`);
    else assert.notEqual(got, null, `invalid fields (${want}) accepted: ${JSON.stringify({ ...f, deps: f.deps.length })}`);
  }), { numRuns: n });
  rec.row({ section: 'fuzz', what: 'entry decoder: valid entries of every kind with 0-2 fields replaced by attacker-chosen values, validly signed (bad kinds, fsId/key/root lengths, unsorted/duplicate/missing/too many deps, `..`/`.`/empty/NUL/overlong names and paths, lone surrogates, fields on the wrong kind, huge modes and times)', cases: n, outcome: t.toString() + '; decoder agreed with an independent statement of the rules on every case', ok: true });
});

test('a decoded entry does not alias its input buffer (network buffers are reused)', () => {
  const n = budget(500, 10_000);
  fc.assert(fc.property(validEntryArb, (e) => {
    const buf = new Uint8Array(e.bytes);
    const d = decodeEntry(buf);
    const path = d.path;
    const deps = d.deps.map((x) => Buffer.from(x).toString('hex'));
    buf.fill(0xaa);
    assert.equal(toHex(sha256(d.bytes)), d.idHex);
    assert.ok(verifyEntry(d));
    assert.equal(d.path, path);
    assert.deepEqual(d.deps.map((x) => Buffer.from(x).toString('hex')), deps);
  }), { numRuns: n });
  rec.row({ section: 'fuzz', what: 'entry decoder: input buffer overwritten after decoding (as a reused network buffer would be)', cases: n, outcome: 'decoded entry unchanged: id, signature, path and deps intact every time', ok: true });
});

test('createEntry never produces an entry the decoder rejects (local writes survive reopen)', () => {
  // A local entry with more deps than LIMITS.maxDeps (a node with many concurrent heads), or
  // bigger than LIMITS.maxEntryBytes, would be stored but unreadable on reopen.
  const deps = Array.from({ length: LIMITS.maxDeps + 20 }, (_, i) => sha256(Buffer.from([i & 255, i >> 8])));
  const fsId = sha256(Buffer.from('x'));
  let outcome: string;
  try {
    const e = createEntry(KP, { kind: Kind.MKDIR, path: '/a', deps, fsId });
    let decodes = true;
    try { decodeEntry(e.bytes); } catch { decodes = false; }
    outcome = decodes ? 'created and decodes' : 'CREATED BUT UNDECODABLE';
  } catch (err) {
    outcome = `refused: ${(err as Error).message}`;
  }
  rec.row({ section: 'fuzz', what: `createEntry with ${LIMITS.maxDeps + 20} deps (more than the decode limit)`, cases: 1, outcome, ok: !/UNDECODABLE/.test(outcome) });
  assert.doesNotMatch(outcome, /UNDECODABLE/);
});

// A small valid log: bootstrap plus a random DAG of MKDIRs by two keys.
function randomLog(seed: number, size: number): Entry[] {
  const rnd = fc.sample(fc.integer({ min: 0, max: 1_000_000 }), { seed, numRuns: size * 3 });
  const keys = [KP, generateKeyPair()];
  const boot = createEntry(KP, { kind: Kind.BOOTSTRAP, path: '/', name: 'f' + seed, time: 1000 });
  const log = [boot];
  for (let i = 0; i < size; i++) {
    const a = log[rnd[i * 3] % log.length];
    const b = log[rnd[i * 3 + 1] % log.length];
    const deps = a === b ? [a.id] : [a.id, b.id];
    log.push(createEntry(keys[rnd[i * 3 + 2] % 2], { kind: Kind.MKDIR, path: `/d${i}`, fsId: boot.id, deps, time: 2000 + i }));
  }
  return log;
}

test('DAG: any arrival order with duplicates and mutated copies gives the same DAG; orphans stay parked', () => {
  const n = budget(300, 5000);
  const t = new Tally();
  fc.assert(fc.property(fc.integer(), fc.integer({ min: 1, max: 30 }), fc.array(fc.nat(), { maxLength: 40 }), fc.array(mutationsArb, { maxLength: 6 }), (seed, size, order, muts) => {
    const log = randomLog(seed, size);
    const ref = new Dag();
    for (const e of log) assert.equal(ref.add(e).status, 'applied');
    // Arrival order: a shuffle (by `order`), with duplicates and mutated copies mixed in.
    const arrivals: Uint8Array[] = log.map((e) => e.bytes);
    for (let i = 0; i < order.length; i++) {
      const j = order[i] % arrivals.length;
      [arrivals[i % arrivals.length], arrivals[j]] = [arrivals[j], arrivals[i % arrivals.length]];
    }
    for (const o of order.slice(0, 5)) arrivals.splice(o % arrivals.length, 0, log[o % log.length].bytes);
    for (let i = 0; i < muts.length; i++) arrivals.splice((order[i] ?? i) % arrivals.length, 0, mutate(log[i % log.length].bytes, muts[i]));
    const dag = new Dag();
    for (const b of arrivals) {
      let e: Entry;
      try {
        e = decodeEntry(b);
      } catch {
        t.add('decode error');
        continue;
      }
      if (!verifyEntry(e)) {
        t.add('bad signature');
        continue;
      }
      const r = dag.add(e);
      t.add(r.status);
    }
    assert.equal(dag.size, ref.size);
    assert.deepEqual([...dag.heads].sort(), [...ref.heads].sort());
    assert.equal(dag.parked.size, 0);
    for (const id of ref.nodes.keys()) assert.equal(dag.get(id)!.height, ref.get(id)!.height);
  }), { numRuns: n });
  rec.row({ section: 'fuzz', what: 'causal DAG: random logs delivered in random order with duplicates and mutated copies', cases: n, outcome: t.toString() + '; final DAG (entries, heads, heights) equal to in-order delivery every time', ok: true });
});

test('DAG: entries whose deps never arrive are parked, bounded, never applied', () => {
  const dag = new Dag();
  dag.limits.entries = 500;
  const boot = createEntry(KP, { kind: Kind.BOOTSTRAP, path: '/', name: 'p' });
  dag.add(boot);
  let parked = 0;
  let rejected = 0;
  for (let i = 0; i < 800; i++) {
    const ghost = sha256(Buffer.from('never-' + i));
    const r = dag.add(createEntry(KP, { kind: Kind.MKDIR, path: `/o${i}`, fsId: boot.id, deps: [ghost] }));
    if (r.status === 'parked') parked++;
    else if (r.status === 'full') rejected++;
    else assert.fail(`orphan ${r.status}`);
  }
  assert.equal(dag.parked.size, 500);
  assert.equal(dag.size, 1);
  assert.equal(parked, 500);
  assert.equal(rejected, 300);
  assert.equal(dag.missingDeps().length, 500);
  rec.row({ section: 'fuzz', what: 'causal DAG: 800 entries whose deps never arrive (parking bound set to 500)', cases: 800, outcome: '500 parked, 300 refused once the bound was reached, 0 applied; default bounds are 100,000 entries and 32 MiB per filesystem, 4 MiB per author', ok: true });
});
