import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  ChunkList, ChunkListBuilder, encodeChunkList, EMPTY_LIST, EMPTY_ROOT, InvalidChunkListError, LIST_HEADER, LIST_ENTRY,
} from '../../src/content/chunklist.ts';
import { hex } from './helpers.ts';

const entryArb = fc.record({ id: fc.uint8Array({ minLength: 32, maxLength: 32 }), size: fc.integer({ min: 1, max: 2 ** 32 - 1 }) });

test('chunk list round trip and offsets', () => {
  fc.assert(fc.property(fc.array(entryArb, { maxLength: 40 }), (entries) => {
    const blob = encodeChunkList(entries);
    assert.equal(blob.length, LIST_HEADER + LIST_ENTRY * entries.length);
    const l = new ChunkList(blob);
    assert.equal(l.count, entries.length);
    let off = 0;
    for (let i = 0; i < entries.length; i++) {
      assert.deepEqual(l.id(i), entries[i].id);
      assert.equal(l.chunkSize(i), entries[i].size);
      assert.equal(l.offsets[i], off);
      if (entries[i].size > 0) assert.equal(l.find(off), i);
      off += entries[i].size;
      assert.equal(l.find(off - 1), i);
    }
    assert.equal(l.size, off);
    // canonical: re-encoding gives the same bytes
    assert.deepEqual(encodeChunkList(entries.map((e, i) => ({ id: l.id(i), size: l.chunkSize(i) }))), blob);
  }));
});

test('empty content has a fixed root', () => {
  assert.equal(EMPTY_LIST.length, 16);
  assert.equal(hex(EMPTY_LIST), '4246434c01000000' + '0000000000000000');
  assert.equal(hex(EMPTY_ROOT), createHash('sha256').update(EMPTY_LIST).digest('hex'));
  assert.equal(new ChunkList(EMPTY_LIST).size, 0);
});

test('non-canonical lists are rejected', () => {
  const good = encodeChunkList([{ id: new Uint8Array(32).fill(1), size: 10 }, { id: new Uint8Array(32).fill(2), size: 5 }]);
  new ChunkList(good);
  const bad = (mut: (b: Uint8Array) => Uint8Array, why: string) => {
    const b = mut(Uint8Array.from(good));
    assert.throws(() => new ChunkList(b), InvalidChunkListError, why);
  };
  bad((b) => { b[0] = 0; return b; }, 'magic');
  bad((b) => { b[4] = 2; return b; }, 'version');
  bad((b) => { b[6] = 1; return b; }, 'reserved');
  bad((b) => { b[15] = 16; return b; }, 'total mismatch');
  bad((b) => { b.set([0, 0, 0, 0], LIST_HEADER + 32); b[15] = 5; return b; }, 'zero-length chunk');
  bad((b) => Buffer.concat([b, new Uint8Array(1)]), 'trailing byte');
  bad((b) => b.subarray(0, b.length - 1), 'truncated');
  bad(() => new Uint8Array(3), 'too short');
});

test('builder grows and rejects bad sizes', () => {
  const b = new ChunkListBuilder(1);
  for (let i = 0; i < 1000; i++) b.add(new Uint8Array(32).fill(i & 255), i + 1);
  const l = new ChunkList(b.finish());
  assert.equal(l.count, 1000);
  assert.equal(l.size, (1000 * 1001) / 2);
  assert.throws(() => b.add(new Uint8Array(32), 0), RangeError);
  assert.throws(() => b.add(new Uint8Array(31), 1), RangeError);
});
