import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Hasher, hashRangesInline } from '../../src/content/hasher.ts';
import { randomBytes } from './helpers.ts';

test('worker hashes of shared-memory ranges equal inline SHA-256', async () => {
  const h = new Hasher();
  try {
    const buf = Buffer.from(new SharedArrayBuffer(1 << 20));
    randomBytes(1 << 20, 'hasher').copy(buf);
    const ranges = [0, 0, 0, 1, 10, 65536, 100000, 300000, (1 << 20) - 5, 5];
    const want = hashRangesInline(buf, ranges);
    for (let k = 0; k < ranges.length / 2; k++) {
      const d = createHash('sha256').update(buf.subarray(ranges[2 * k], ranges[2 * k] + ranges[2 * k + 1])).digest();
      assert.deepEqual(Buffer.from(want.subarray(k * 32, k * 32 + 32)), d);
    }
    const got = await Promise.all([h.hashRanges(buf, ranges), h.hashRanges(buf, ranges.slice(2))]);
    assert.deepEqual(got[0], want);
    assert.deepEqual(got[1], want.subarray(32));
    // not shared memory: hashed inline, same answer
    assert.deepEqual(await h.hashRanges(Buffer.from(buf), ranges), want);
    // after the worker is gone: still correct (inline)
    await h.close();
    assert.deepEqual(await h.hashRanges(buf, ranges), want);
  } finally {
    await h.close();
  }
});
