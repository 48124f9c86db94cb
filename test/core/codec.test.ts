import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { createEntry, verifyEntry } from '../../src/log/sign.ts';
import { decodeEntry, DecodeError } from '../../src/log/codec.ts';
import { Kind } from '../../src/log/entry.ts';
import { sha256 } from '../../src/crypto/hash.ts';

const kp = generateKeyPair();
const fsId = sha256(new Uint8Array([1]));

const nameArb = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..' && s.isWellFormed());
const pathArb = fc.array(nameArb, { minLength: 1, maxLength: 4 }).map((a) => '/' + a.join('/'));
const depsArb = fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 5, selector: (d) => Buffer.from(d).toString('hex') });

const entryArb = fc.record({
  kind: fc.constantFrom(Kind.MKDIR, Kind.WRITE, Kind.DELETE, Kind.SETATTR, Kind.GRANT, Kind.REVOKE),
  path: pathArb,
  deps: depsArb,
  time: fc.integer({ min: 0, max: 2 ** 45 }),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  size: fc.integer({ min: 0, max: 2 ** 40 }),
  mtime: fc.integer({ min: 0, max: 2 ** 45 }),
}).map((r) => createEntry(kp, {
  kind: r.kind, path: r.path, deps: r.deps, fsId, time: r.time, mode: r.mode,
  mtime: r.kind === Kind.WRITE || r.kind === Kind.SETATTR ? r.mtime : 0,
  size: r.kind === Kind.WRITE ? r.size : 0,
  root: r.kind === Kind.WRITE ? sha256(new Uint8Array([2])) : undefined,
  key: r.kind === Kind.GRANT || r.kind === Kind.REVOKE ? kp.publicKey : undefined,
}));

test('encode/decode round trip keeps every field and the id', () => {
  fc.assert(fc.property(entryArb, (e) => {
    const d = decodeEntry(e.bytes);
    assert.equal(d.idHex, e.idHex);
    assert.deepEqual(Buffer.from(d.body), Buffer.from(e.body));
    assert.equal(d.path, e.path);
    assert.equal(d.time, e.time);
    assert.ok(verifyEntry(d));
  }), { numRuns: 300 });
});

test('any single flipped bit is rejected (decode error or bad signature)', () => {
  fc.assert(fc.property(entryArb, fc.nat(), (e, n) => {
    const bit = n % (e.bytes.length * 8);
    const b = new Uint8Array(e.bytes);
    b[bit >> 3] ^= 1 << (bit & 7);
    let ok = false;
    try {
      ok = verifyEntry(decodeEntry(b));
    } catch (err) {
      assert.ok(err instanceof DecodeError, String(err));
    }
    assert.equal(ok, false);
  }), { numRuns: 500 });
});

test('non-canonical varints are rejected', () => {
  const e = createEntry(kp, { kind: Kind.MKDIR, path: '/a', deps: [fsId], fsId, time: 5 });
  // time=5 is one byte 0x05 right after the 32-byte author; widen it to 0x85 0x00.
  const off = 2 + 1 + 32 + 32;
  assert.equal(e.body[off], 5);
  const b = new Uint8Array(e.bytes.length + 1);
  b.set(e.bytes.subarray(0, off));
  b[off] = 0x85;
  b[off + 1] = 0x00;
  b.set(e.bytes.subarray(off + 1), off + 2);
  assert.throws(() => decodeEntry(b), /non-canonical/);
});
