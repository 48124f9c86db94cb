import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  Chunker, chunkBuffer, chunkStream, referenceCutPoints, DEFAULT_PARAMS, GEAR, GEAR_LABEL, maskFor, CHUNKER_IMPL, type ChunkerParams,
} from '../../src/content/chunker.ts';
import { randomBytes, hex } from './helpers.ts';

const { min: MIN, avg: AVG, max: MAX } = DEFAULT_PARAMS;
const SMALL: ChunkerParams = { min: 64, avg: 256, max: 1024 };

function cutsOf(chunks: Uint8Array[]): number[] {
  const out: number[] = [];
  let p = 0;
  for (const c of chunks) { p += c.length; out.push(p); }
  return out;
}

function streamCuts(data: Uint8Array, splits: number[], params: ChunkerParams, impl: 'js' | 'wasm' = 'wasm'): number[] {
  const c = new Chunker(params, { impl });
  const chunks: Uint8Array[] = [];
  let p = 0;
  for (const s of [...splits, data.length]) {
    const q = Math.min(Math.max(s, p), data.length);
    chunks.push(...c.push(data.subarray(p, q)));
    p = q;
  }
  chunks.push(...c.finish());
  return cutsOf(chunks);
}

function ids(chunks: Uint8Array[]): string[] {
  return chunks.map((c) => createHash('sha256').update(c).digest('hex'));
}

test('gear table is the fixed SHA-256 derivation every node shares', () => {
  for (const i of [0, 1, 127, 255]) {
    const d = createHash('sha256').update(GEAR_LABEL).update(Uint8Array.of(i)).digest();
    assert.equal(GEAR[i], d.readInt32BE(0));
  }
  // pinned: a change here changes every chunk boundary (a format change)
  assert.deepEqual(Array.from(GEAR.slice(0, 4), (x) => (x >>> 0).toString(16)), ['136b4bbf', '5b5baac7', 'e0a4f5d4', 'cf7430ab']);
  assert.equal(maskFor(18) >>> 0, 0x7fffe000);
  assert.equal(maskFor(14) >>> 0, 0x7ffe0000);
});

test('pinned boundaries for a fixed input (cross-node determinism)', () => {
  const data = randomBytes(2 << 20, 'pinned');
  const cuts = referenceCutPoints(data);
  assert.equal(cuts[cuts.length - 1], data.length);
  const digest = createHash('sha256').update(cuts.join(',')).digest('hex').slice(0, 16);
  assert.deepEqual(cutsOf(chunkBuffer(data)), cuts);
  // If this changes, chunks written by older nodes no longer dedup with new ones.
  assert.equal(digest, PINNED_CUTS_DIGEST, `cuts: ${cuts.slice(0, 5).join(',')}...`);
});
const PINNED_CUTS_DIGEST = 'd0506747ea0ddc8a';

test('empty, 1-byte and exact-boundary inputs', () => {
  assert.deepEqual(chunkBuffer(new Uint8Array(0)), []);
  assert.deepEqual(cutsOf(chunkBuffer(new Uint8Array(1))), [1]);
  const r = randomBytes(4 * MAX, 'bounds');
  assert.deepEqual(cutsOf(chunkBuffer(r.subarray(0, MIN))), [MIN]); // never cut before min
  assert.deepEqual(cutsOf(chunkBuffer(r.subarray(0, MIN - 1))), [MIN - 1]);
  assert.deepEqual(cutsOf(chunkBuffer(r.subarray(0, MIN + 1))), [MIN + 1]); // cut needs min bytes after start... and the rest is the tail
  // all-zero data never matches the masks: cuts fall exactly at max
  const z = new Uint8Array(2 * MAX + 1);
  assert.deepEqual(cutsOf(chunkBuffer(z.subarray(0, MAX))), [MAX]);
  assert.deepEqual(cutsOf(chunkBuffer(z.subarray(0, MAX + 1))), [MAX, MAX + 1]);
  assert.deepEqual(cutsOf(chunkBuffer(z.subarray(0, 2 * MAX))), [MAX, 2 * MAX]);
  assert.deepEqual(cutsOf(chunkBuffer(z)), [MAX, 2 * MAX, 2 * MAX + 1]);
  // one byte at a time gives the same chunks as one big piece
  const small = r.subarray(0, 3 * AVG);
  const c = new Chunker();
  const got: Uint8Array[] = [];
  for (let i = 0; i < small.length; i++) got.push(...c.push(small.subarray(i, i + 1)));
  got.push(...c.finish());
  assert.deepEqual(cutsOf(got), referenceCutPoints(small));
  assert.deepEqual(ids(got), ids(chunkBuffer(small)));
});

test('streaming over any split equals the one-byte reference (default params, both scanners)', () => {
  assert.equal(CHUNKER_IMPL, 'wasm'); // the fast path is what runs here
  const data = randomBytes(6 << 20, 'ref');
  const ref = referenceCutPoints(data);
  assert.ok(ref.length > 40);
  for (const impl of ['wasm', 'js'] as const) {
    for (const splits of [[], [1], [MIN - 1, MIN, MIN + 1], Array.from({ length: 100 }, (_, i) => i * 61 * 1024 + (i % 7)), [MAX, 2 * MAX + 1], [(1 << 20) - 1, (3 << 20) + 1]]) {
      assert.deepEqual(streamCuts(data, splits, DEFAULT_PARAMS, impl), ref, `${impl} ${splits.slice(0, 3)}`);
    }
  }
});

test('property: stream == reference and sizes within bounds (small params)', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 0, maxLength: 20000 }),
    fc.array(fc.nat({ max: 20000 }), { maxLength: 12 }),
    fc.boolean(),
    (bytes, rawSplits, lowEntropy) => {
      const data = lowEntropy ? bytes.map((b) => b & 3) : bytes;
      const splits = [...rawSplits].sort((a, b) => a - b);
      const ref = referenceCutPoints(data, SMALL);
      assert.deepEqual(streamCuts(data, splits, SMALL), ref);
      assert.deepEqual(streamCuts(data, splits, SMALL, 'js'), ref);
      let prev = 0;
      for (let i = 0; i < ref.length; i++) {
        const size = ref[i] - prev;
        assert.ok(size <= SMALL.max);
        if (i < ref.length - 1) assert.ok(size >= SMALL.min);
        else assert.ok(size > 0);
        prev = ref[i];
      }
    },
  ), { numRuns: 300 });
});

test('sizes on random data average near the target', () => {
  const data = randomBytes(32 << 20, 'avg');
  const chunks = chunkBuffer(data);
  const avg = data.length / chunks.length;
  assert.ok(avg > 48 * 1024 && avg < 96 * 1024, `average ${avg}`);
  for (const c of chunks.slice(0, -1)) assert.ok(c.length >= MIN && c.length <= MAX);
});

function newChunks(a: Uint8Array, b: Uint8Array): { added: number; total: number } {
  const old = new Set(ids(chunkBuffer(a)));
  const nb = ids(chunkBuffer(b));
  return { added: nb.filter((x) => !old.has(x)).length, total: nb.length };
}

test('shift resistance: inserting or removing bytes upstream keeps later boundaries', () => {
  const data = randomBytes(16 << 20, 'shift');
  const edits: [string, Uint8Array][] = [
    ['insert 1 byte at 0', Buffer.concat([Uint8Array.of(7), data])],
    ['insert 100 bytes at 3 MiB', Buffer.concat([data.subarray(0, 3 << 20), randomBytes(100, 'ins'), data.subarray(3 << 20)])],
    ['delete 5000 bytes at 5 MiB', Buffer.concat([data.subarray(0, 5 << 20), data.subarray((5 << 20) + 5000)])],
    ['insert 1 MiB at 8 MiB', Buffer.concat([data.subarray(0, 8 << 20), randomBytes(1 << 20, 'big'), data.subarray(8 << 20)])],
  ];
  for (const [name, edited] of edits) {
    const { added, total } = newChunks(data, edited);
    const extra = name.includes('1 MiB') ? Math.ceil((1 << 20) / MIN) : 0; // the inserted MiB is new content
    assert.ok(added <= 3 + extra, `${name}: ${added} new of ${total}`);
    assert.ok((total - added) / total > 0.85, `${name}: only ${total - added}/${total} shared`);
  }
});

test('multi-GB input streamed through the chunker in bounded memory', async () => {
  // 4 GiB of generated data: views at pseudo-random offsets of a 64 MiB random block, so the
  // generator costs nothing and the chunker does all the work.
  const TOTAL = 4 * 1024 ** 3;
  const PIECE = 1 << 20;
  const block = randomBytes(64 << 20, 'big-block');
  async function* source(): AsyncGenerator<Uint8Array> {
    let x = 12345;
    for (let sent = 0; sent < TOTAL; sent += PIECE) {
      x = (x * 1103515245 + 12345) >>> 0;
      const off = x % (block.length - PIECE);
      yield block.subarray(off, off + PIECE);
    }
  }
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let maxRss = rss0;
  let bytes = 0;
  let count = 0;
  let maxChunk = 0;
  const t0 = performance.now();
  for await (const c of chunkStream(source())) {
    bytes += c.length;
    count++;
    if (c.length > maxChunk) maxChunk = c.length;
    if ((count & 1023) === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }
  const secs = (performance.now() - t0) / 1000;
  assert.equal(bytes, TOTAL);
  assert.ok(maxChunk <= MAX);
  assert.ok(count > TOTAL / MAX);
  const growth = (maxRss - rss0) / 2 ** 20;
  assert.ok(growth < 96, `rss grew by ${growth.toFixed(0)} MiB`);
  console.log(`# chunker only: ${TOTAL / 2 ** 30} GiB in ${secs.toFixed(1)} s (${(TOTAL / 2 ** 20 / secs).toFixed(0)} MiB/s), ${count} chunks, rss growth ${growth.toFixed(0)} MiB`);
});

test('bad parameters are rejected', () => {
  assert.throws(() => new Chunker({ min: 16, avg: 64, max: 256 }), RangeError);
  assert.throws(() => new Chunker({ min: 1024, avg: 3000, max: 8192 }), RangeError);
  assert.throws(() => new Chunker({ min: 4096, avg: 4096, max: 8192 }), RangeError);
});

test('chunk ids are identical for identical content regardless of piece sizes', () => {
  const data = randomBytes(3 << 20, 'ids');
  const a = ids(chunkBuffer(data));
  const c = new Chunker();
  const got: Uint8Array[] = [];
  for (let p = 0; p < data.length; p += 4093) got.push(...c.push(data.subarray(p, p + 4093)));
  got.push(...c.finish());
  assert.deepEqual(ids(got), a);
  assert.equal(hex(Buffer.concat(got)), hex(data));
});
