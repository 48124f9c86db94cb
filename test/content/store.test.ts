import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, unlinkSync, appendFileSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ChunkStore, CorruptChunkError, MissingChunksError, InvalidChunkListError, type ContentRef } from '../../src/content/store.ts';
import { DEFAULT_PARAMS } from '../../src/content/chunker.ts';
import { EMPTY_ROOT } from '../../src/content/chunklist.ts';
import { randomBytes, randomPieces, tempDir, hex } from './helpers.ts';

const { min: MIN, max: MAX } = DEFAULT_PARAMS;

async function withStore(fn: (s: ChunkStore, dir: string) => Promise<void>, opts = {}): Promise<void> {
  const { dir, cleanup } = tempDir();
  const s = await ChunkStore.open(dir, opts);
  try {
    await fn(s, dir);
  } finally {
    await s.close();
    cleanup();
  }
}

function packFiles(dir: string): string[] {
  return readdirSync(join(dir, 'packs')).filter((n) => n.endsWith('.pack')).sort().map((n) => join(dir, 'packs', n));
}

// Finds the record of a chunk in the pack files by its id (the record header starts with it).
function locate(dir: string, idHex: string): { file: string; dataAt: number } {
  const id = Buffer.from(idHex, 'hex');
  for (const file of packFiles(dir)) {
    const b = readFileSync(file);
    const at = b.indexOf(id);
    if (at >= 0) return { file, dataAt: at + 40 };
  }
  throw new Error(`chunk ${idHex} not found in packs`);
}

function flipByte(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  const r = readFileSync(file).subarray(at, at + 1);
  b[0] = r[0] ^ 0xff;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

test('round trip of edge sizes: empty, 1 byte, min/max chunk boundaries', async () => {
  await withStore(async (s) => {
    const r = randomBytes(3 * MAX + 10, 'edges');
    for (const n of [0, 1, MIN - 1, MIN, MIN + 1, MAX - 1, MAX, MAX + 1, 2 * MAX, 3 * MAX + 10]) {
      const data = r.subarray(0, n);
      const ref = await s.writeBuffer(data);
      assert.equal(ref.size, n);
      assert.equal(hex(await s.readAll(ref.root, `/f${n}`)), hex(data), `size ${n}`);
      const list = await s.chunkList(ref.root);
      assert.equal(list.reduce((a, c) => a + c.size, 0), n);
      for (const c of list) assert.ok(c.size <= MAX);
    }
    // all-zero data cuts exactly at max
    const z = new Uint8Array(2 * MAX);
    const zr = await s.writeBuffer(z);
    assert.deepEqual((await s.chunkList(zr.root)).map((c) => c.size), [MAX, MAX]);
    assert.equal((await s.readAll(zr.root)).length, 2 * MAX);
    // empty file: the root of the empty list, readable even with nothing stored
    const e = await s.writeBuffer(new Uint8Array(0));
    assert.equal(hex(e.root), hex(EMPTY_ROOT));
    assert.deepEqual(await s.missing(EMPTY_ROOT), []);
  });
});

test('root = SHA-256 of the chunk list blob, list verifies every chunk', async () => {
  await withStore(async (s) => {
    const data = randomBytes(1 << 20, 'root');
    const ref = await s.writeBuffer(data);
    const blob = await s.getChunk(hex(ref.root));
    assert.ok(blob);
    assert.equal(createHash('sha256').update(blob).digest('hex'), hex(ref.root));
    const list = await s.chunkList(ref.root);
    let off = 0;
    for (const c of list) {
      assert.equal(c.offset, off);
      const bytes = await s.getChunk(hex(c.id));
      assert.ok(bytes);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), hex(c.id));
      assert.equal(hex(bytes), hex(data.subarray(off, off + c.size)));
      off += c.size;
    }
    assert.equal(off, data.length);
  });
});

test('identical files add no chunks; writeFile and writeStream agree with writeBuffer', async () => {
  await withStore(async (s, dir) => {
    const data = randomBytes(3 << 20, 'same');
    const a = await s.writeBuffer(data);
    const st1 = await s.stats();
    const b = await s.writeBuffer(Buffer.from(data));
    const file = join(dir, 'input.bin');
    writeFileSync(file, data);
    let progress = 0;
    const c = await s.writeFile(file, (n) => { progress = n; });
    const d = await s.writeStream(randomPieces(3 << 20, 'same', 12345));
    const st2 = await s.stats();
    for (const r of [b, c, d]) {
      assert.equal(hex(r.root), hex(a.root));
      assert.equal(r.size, a.size);
    }
    assert.equal(progress, data.length);
    assert.equal(st2.chunksStored, st1.chunksStored);
    assert.equal(st2.bytesStored, st1.bytesStored);
    const st3 = await s.stats([a.root, b.root, c.root]);
    assert.equal(st3.logicalBytes, 3 * data.length);
    assert.equal(st3.missing, 0);
    assert.equal(st3.referenced, st1.chunksStored);
  });
});

test('changing one byte of a 100 MB file adds at most 2 chunks (plus its new list)', async () => {
  await withStore(async (s) => {
    const N = 100_000_000;
    const data = randomBytes(N, 'hundred');
    const base = await s.writeBuffer(data);
    const chunks0 = (await s.stats()).chunksStored;
    let prev = chunks0;
    const list = await s.chunkList(base.root);
    // a byte in the middle of a chunk, the last byte of a chunk, the first byte of the file
    for (const pos of [N >> 1, list[10].offset + list[10].size - 1, 0]) {
      const old = data[pos];
      data[pos] ^= 0x5a;
      const v = await s.writeBuffer(data);
      data[pos] = old;
      const now = (await s.stats()).chunksStored;
      const added = now - prev - 1; // minus the new chunk list
      assert.ok(added >= 1 && added <= 2, `byte ${pos}: ${added} new chunks`);
      assert.equal(v.size, N);
      prev = now;
    }
    // shift: one byte inserted at the front of a 16 MiB prefix stays cheap too
    const ins = await s.writeBuffer(Buffer.concat([Uint8Array.of(1), data.subarray(0, 16 << 20)]));
    const afterIns = (await s.stats()).chunksStored;
    assert.ok(afterIns - prev - 1 <= 3, `insert added ${afterIns - prev - 1}`);
    assert.equal(hex(await s.read(ins.root, 1, 1000)), hex(data.subarray(0, 1000)));
  });
});

test('random-range reads equal slices of the original', async () => {
  await withStore(async (s) => {
    const data = randomBytes(5 * MAX + 777, 'ranges');
    const ref = await s.writeBuffer(data);
    await fc.assert(fc.asyncProperty(fc.nat({ max: data.length + 100 }), fc.nat({ max: 3 * MAX }), async (off, len) => {
      const got = await s.read(ref.root, off, len, '/ranges');
      assert.equal(got.length, Math.max(0, Math.min(data.length, off + len) - off));
      assert.ok(Buffer.from(got).equals(data.subarray(off, off + len)));
    }), { numRuns: 150 });
    const parts: Uint8Array[] = [];
    for await (const c of s.readStream(ref.root)) parts.push(c);
    assert.ok(Buffer.concat(parts).equals(data));
    await assert.rejects(s.read(ref.root, -1, 5), RangeError);
  });
});

test('a corrupted stored chunk fails the read with CorruptChunkError naming file and chunk', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await ChunkStore.open(dir);
    const data = randomBytes(1 << 20, 'corrupt');
    const ref = await s.writeBuffer(data);
    const list = await s.chunkList(ref.root);
    const victim = hex(list[2].id);
    await s.close();
    const { file, dataAt } = locate(dir, victim);
    flipByte(file, dataAt + 100);
    s = await ChunkStore.open(dir);
    // a read that needs the chunk fails, naming both; it never returns the wrong bytes
    await assert.rejects(s.readAll(ref.root, '/etc/bird/bird.conf'), (e: unknown) => {
      assert.ok(e instanceof CorruptChunkError);
      assert.equal(e.chunkId, victim);
      assert.match(e.message, new RegExp(`corrupt chunk ${victim} in /etc/bird/bird.conf: stored bytes do not match their hash`));
      return true;
    });
    // a read that does not touch it still works
    assert.ok(Buffer.from(await s.read(ref.root, 0, list[1].offset + list[1].size)).equals(data.subarray(0, list[2].offset)));
    // the bad chunk now reads as missing, so it can be fetched again
    assert.deepEqual(await s.missing(ref.root), [victim]);
    assert.equal(await s.hasChunk(victim), false);
    assert.equal(await s.getChunk(victim), null);
    await assert.rejects(s.read(ref.root, list[2].offset, 10, '/f'), (e: unknown) => e instanceof MissingChunksError && e.missing[0] === victim && /\/f/.test(e.message));
    // a peer sends the good bytes: healed
    await s.putChunk(data.subarray(list[2].offset, list[2].offset + list[2].size), victim);
    assert.ok(Buffer.from(await s.readAll(ref.root)).equals(data));
    await s.close();
    // ...and still healed after a restart (the good copy wins over the bad one)
    s = await ChunkStore.open(dir);
    assert.ok(Buffer.from(await s.readAll(ref.root)).equals(data));
    // getChunk on a corrupt chunk: null (treated as absent), never wrong bytes
    const v2 = hex(list[0].id);
    await s.close();
    const loc2 = locate(dir, v2);
    flipByte(loc2.file, loc2.dataAt);
    s = await ChunkStore.open(dir);
    assert.equal(await s.getChunk(v2), null);
    assert.deepEqual(await s.missing(ref.root), [v2]);
    await s.close();
  } finally {
    cleanup();
  }
});

test('putChunk verifies the hash, getChunk/hasChunk', async () => {
  await withStore(async (s) => {
    const data = randomBytes(5000, 'put');
    const id = createHash('sha256').update(data).digest('hex');
    const wrong = createHash('sha256').update('other').digest('hex');
    await assert.rejects(s.putChunk(data, wrong), (e: unknown) => e instanceof CorruptChunkError && e.chunkId === wrong);
    assert.equal(await s.hasChunk(wrong), false);
    assert.equal(await s.hasChunk(id), false);
    assert.equal(await s.putChunk(data, id.toUpperCase()), id);
    assert.equal(await s.hasChunk(id), true);
    assert.equal(hex((await s.getChunk(id))!), hex(data));
    assert.equal(await s.putChunk(data), id); // again: stored once
    assert.equal((await s.stats()).chunksStored, 1);
    await assert.rejects(s.hasChunk('xyz'), TypeError);
    // a chunk list received before its chunks: missing() lists exactly what to fetch
    const src = randomBytes(600_000, 'net');
    const { dir: d2, cleanup } = tempDir();
    const other = await ChunkStore.open(d2);
    try {
      const ref = await other.writeBuffer(src);
      assert.deepEqual(await s.missing(ref.root), [hex(ref.root)]);
      await assert.rejects(s.chunkList(ref.root), MissingChunksError);
      await s.putChunk((await other.getChunk(hex(ref.root)))!, hex(ref.root));
      const need = await s.missing(ref.root);
      assert.deepEqual(need, (await other.chunkList(ref.root)).map((c) => hex(c.id)));
      for (const h of need) await s.putChunk((await other.getChunk(h))!, h, { sync: false });
      await s.flush();
      assert.deepEqual(await s.missing(ref.root), []);
      assert.ok(Buffer.from(await s.readAll(ref.root)).equals(src));
      // a data chunk used as a root is not a chunk list
      await assert.rejects(s.readAll(Buffer.from(need[0], 'hex'), '/x'), InvalidChunkListError);
    } finally {
      await other.close();
      cleanup();
    }
  });
});

test('missing() reports a deleted chunk; reads name what is missing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await ChunkStore.open(dir);
    const data = randomBytes(2 << 20, 'missing');
    const ref = await s.writeBuffer(data);
    const list = await s.chunkList(ref.root);
    assert.deepEqual(await s.missing(ref.root), []);
    const gone = hex(list[3].id);
    assert.equal(await s.deleteChunk(gone), true);
    assert.equal(await s.deleteChunk(gone), false);
    assert.deepEqual(await s.missing(ref.root), [gone]);
    await assert.rejects(s.readAll(ref.root, '/data/file'), (e: unknown) => {
      assert.ok(e instanceof MissingChunksError);
      assert.deepEqual(e.missing, [gone]);
      assert.match(e.message, /\/data\/file/);
      return true;
    });
    await assert.rejects(async () => { for await (const _ of s.readStream(ref.root)) { /* nothing */ } }, MissingChunksError);
    const st = await s.stats([ref.root]);
    assert.equal(st.missing, 1);
    assert.equal(st.referenced, list.length + 1);
    assert.equal(st.logicalBytes, data.length);
    // deletion is durable
    await s.close();
    s = await ChunkStore.open(dir);
    assert.deepEqual(await s.missing(ref.root), [gone]);
    // unknown root: the list itself is what is missing
    const unknown = createHash('sha256').update('nothing').digest();
    assert.deepEqual(await s.missing(unknown), [hex(unknown)]);
    await assert.rejects(s.read(unknown, 0, 1), (e: unknown) => e instanceof MissingChunksError && e.missing[0] === hex(unknown));
    await s.close();
  } finally {
    cleanup();
  }
});

test('content survives reopen, lost index files and several pack files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await ChunkStore.open(dir, { packSize: 1 << 20 });
    const files: [Buffer, ContentRef][] = [];
    for (let i = 0; i < 6; i++) {
      const d = randomBytes(700_000 + i * 1000, `reopen${i}`);
      files.push([d, await s.writeBuffer(d)]);
    }
    const st = await s.stats();
    assert.ok(st.packs >= 3, `packs ${st.packs}`);
    await s.close();
    s = await ChunkStore.open(dir, { packSize: 1 << 20 });
    for (const [d, r] of files) assert.ok(Buffer.from(await s.readAll(r.root)).equals(d));
    assert.equal((await s.stats()).chunksStored, st.chunksStored);
    await s.close();
    for (const n of readdirSync(join(dir, 'packs'))) if (n.endsWith('.idx')) unlinkSync(join(dir, 'packs', n));
    s = await ChunkStore.open(dir, { packSize: 1 << 20 });
    for (const [d, r] of files) assert.ok(Buffer.from(await s.readAll(r.root)).equals(d));
    assert.equal((await s.stats()).chunksStored, st.chunksStored);
    await s.close();
  } finally {
    cleanup();
  }
});

test('crash in the middle of a write: torn records read as missing, acknowledged content intact', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let s = await ChunkStore.open(dir);
    const kept = randomBytes(1 << 20, 'kept');
    const keptRef = await s.writeBuffer(kept);
    // a killed process: whatever was queued is lost, no index written
    const p = s.writeBuffer(randomBytes(3 << 20, 'lost'));
    p.catch(() => {});
    await s.crashForTests();
    s = await ChunkStore.open(dir);
    assert.ok(Buffer.from(await s.readAll(keptRef.root)).equals(kept));
    await s.close();

    // power cut: the tail of the pack holds a record whose data was only partly written
    const [pack] = packFiles(dir).slice(-1);
    const torn = randomBytes(70_000, 'torn');
    const tornId = createHash('sha256').update(torn).digest();
    const { encodeRecordHeader } = await import('../../src/content/pack.ts');
    // (a) complete header, data with garbage in it (length right, bytes wrong)
    const garbage = Buffer.from(torn);
    garbage.fill(0, 30_000);
    appendFileSync(pack, Buffer.concat([encodeRecordHeader(tornId, torn.length), garbage]));
    s = await ChunkStore.open(dir);
    assert.equal(await s.hasChunk(hex(tornId)), false); // detected by its hash: missing
    assert.ok(Buffer.from(await s.readAll(keptRef.root)).equals(kept));
    await s.close();
    // (b) header and only part of the data
    const size0 = statSync(pack).size;
    const torn2 = randomBytes(50_000, 'torn2');
    appendFileSync(pack, Buffer.concat([encodeRecordHeader(createHash('sha256').update(torn2).digest(), torn2.length), torn2.subarray(0, 1000)]));
    // (c) and a half-written header after that
    appendFileSync(pack, randomBytes(17, 'half'));
    const size1 = statSync(pack).size;
    assert.ok(size1 > size0);
    for (const n of readdirSync(join(dir, 'packs'))) if (n.endsWith('.idx')) unlinkSync(join(dir, 'packs', n));
    s = await ChunkStore.open(dir);
    assert.ok(Buffer.from(await s.readAll(keptRef.root)).equals(kept));
    assert.equal(await s.hasChunk(hex(tornId)), false);
    // new writes go on working (into a fresh pack; the damaged one is never appended to)
    const more = randomBytes(500_000, 'more');
    const nPacks = packFiles(dir).length;
    const moreRef = await s.writeBuffer(more);
    assert.ok(Buffer.from(await s.readAll(moreRef.root)).equals(more));
    assert.equal(packFiles(dir).length, nPacks + 1);
    assert.equal(statSync(pack).size, size1);
    await s.putChunk(torn, hex(tornId));
    await s.close();
    s = await ChunkStore.open(dir);
    assert.ok(Buffer.from(await s.readAll(moreRef.root)).equals(more));
    assert.ok(Buffer.from(await s.readAll(keptRef.root)).equals(kept));
    assert.equal(hex((await s.getChunk(hex(tornId)))!), hex(torn));
    await s.close();
  } finally {
    cleanup();
  }
});

test('an acknowledged write is in the pack file (visible to a second reader) before close', async () => {
  await withStore(async (s, dir) => {
    const data = randomBytes(2 << 20, 'ack');
    const ref = await s.writeBuffer(data);
    const reader = await ChunkStore.open(dir, { readOnly: true });
    try {
      assert.ok(Buffer.from(await reader.readAll(ref.root)).equals(data));
      await assert.rejects(reader.writeBuffer(data), /read-only/);
    } finally {
      await reader.close();
    }
  });
});

test('concurrent writers share fsyncs and all content reads back', async () => {
  await withStore(async (s) => {
    const inputs = Array.from({ length: 8 }, (_, i) => randomBytes(300_000 + i * 50_000, `conc${i % 4}`)); // duplicates too
    const refs = await Promise.all(inputs.map((d) => s.writeBuffer(d)));
    for (let i = 0; i < inputs.length; i++) assert.ok(Buffer.from(await s.readAll(refs[i].root)).equals(inputs[i]));
    const parts = await Promise.all(refs.map((r) => s.read(r.root, 1000, 200_000)));
    for (let i = 0; i < inputs.length; i++) assert.ok(Buffer.from(parts[i]).equals(inputs[i].subarray(1000, 201_000)));
  }, { packSize: 1 << 20 });
});

test('one process per store directory', async () => {
  await withStore(async (_s, dir) => {
    await assert.rejects(ChunkStore.open(dir), /already open/);
  });
});

test('writeFile of a large file (piece buffers reused) matches writeBuffer and reads back', async () => {
  await withStore(async (s, dir) => {
    const data = randomBytes(21 * 1024 * 1024 + 12345, 'bigfile');
    const file = join(dir, 'big.bin');
    writeFileSync(file, data);
    const a = await s.writeFile(file);
    const b = await s.writeBuffer(data);
    assert.equal(hex(a.root), hex(b.root));
    assert.equal(a.size, data.length);
    const h = createHash('sha256');
    let n = 0;
    for await (const c of s.readStream(a.root)) { h.update(c); n += c.length; }
    assert.equal(n, data.length);
    assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
  });
});

test('a chunk list that lies about a chunk length is refused, never half-read', async () => {
  await withStore(async (s) => {
    const { encodeChunkList } = await import('../../src/content/chunklist.ts');
    const data = randomBytes(200_000, 'liar');
    const ref = await s.writeBuffer(data);
    const real = await s.chunkList(ref.root);
    for (const delta of [-1, 1, 1000]) {
      const blob = encodeChunkList(real.map((c, i) => ({ id: c.id, size: i === 0 ? c.size + delta : c.size })));
      const root = Buffer.from(await s.putChunk(blob), 'hex');
      await assert.rejects(s.readAll(root, '/liar'), (e: unknown) => e instanceof InvalidChunkListError && /\/liar/.test((e as Error).message));
      await assert.rejects(s.read(root, 0, 10), InvalidChunkListError);
      await assert.rejects(async () => { for await (const _ of s.readStream(root)) { /* nothing */ } }, InvalidChunkListError);
    }
    assert.ok(Buffer.from(await s.readAll(ref.root)).equals(data));
  });
});

test('read-only open of a directory without a store fails', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await assert.rejects(ChunkStore.open(join(dir, 'nothing'), { readOnly: true }), /no content store/);
  } finally {
    cleanup();
  }
});
