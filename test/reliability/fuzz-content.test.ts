// Fuzzing what peers send to the chunk store: chunks whose bytes do not match the hash they
// were asked for, and chunk lists (a file's content description) that are corrupt or lie
// about sizes. Only the store's own error classes may come out, nothing wrong is stored, and
// a read returns exactly the bytes of the chunks the list names, or fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ChunkStore, CorruptChunkError, MissingChunksError, InvalidChunkListError } from '../../src/content/store.ts';
import { encodeChunkList, LIST_HEADER, LIST_ENTRY } from '../../src/content/chunklist.ts';
import { budget, Recorder } from './lib/results.ts';
import { mutate, mutationsArb, Tally } from './lib/mutate.ts';

const rec = new Recorder(import.meta.url);
const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function tmpStore(t: { after: (fn: () => Promise<void> | void) => void }): Promise<ChunkStore> {
  const d = mkdtempSync(join(tmpdir(), 'basefs-rel-content-'));
  const s = await ChunkStore.open(join(d, 'chunks'));
  t.after(async () => {
    await s.close().catch(() => {});
    rmSync(d, { recursive: true, force: true });
  });
  return s;
}

const expected = (e: unknown) => e instanceof CorruptChunkError || e instanceof MissingChunksError || e instanceof InvalidChunkListError;

test('chunks whose bytes do not hash to the requested id are refused and not stored', async (t) => {
  const s = await tmpStore(t);
  const n = budget(1000, 30_000);
  const tally = new Tally();
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')), fc.constant('flip')), async (data, want) => {
    const real = hex(data);
    if (want === 'flip') want = (real[0] === '0' ? '1' : '0') + real.slice(1);
    if (want === real) return;
    try {
      await s.putChunk(data, want);
      assert.fail('a chunk with the wrong hash was stored');
    } catch (e) {
      assert.ok(e instanceof CorruptChunkError, String(e));
      tally.add('refused (CorruptChunkError)');
    }
    assert.equal(await s.hasChunk(want), false);
    assert.equal(await s.getChunk(want), null);
  }), { numRuns: n });
  rec.row({ section: 'fuzz', what: 'chunk responses: random bytes (0-5,000) offered for a random or near-miss chunk id', cases: n, outcome: tally.toString() + '; neither id ever became readable', ok: true });
});

test('corrupt or lying chunk lists: only store errors, reads return exactly the named chunks', async (t) => {
  const s = await tmpStore(t);
  // A few real files give real chunk lists and real chunks to point at.
  const files = [randomBytes(3 * 1024 * 1024), Buffer.alloc(700_000, 7), randomBytes(5000), randomBytes(1)];
  const refs = [];
  for (const f of files) refs.push(await s.writeBuffer(f));
  const lists: Uint8Array[] = [];
  for (const r of refs) lists.push((await s.getChunk(toHex(r.root)))!);
  const chunkIds = (await Promise.all(refs.map((r) => s.chunkList(r.root)))).flat();
  // Hand-made lists that lie: wrong sizes for real chunks, missing chunks, huge totals.
  const forged: [string, Uint8Array][] = [];
  const c0 = chunkIds[0];
  forged.push(['size too small for its chunk', encodeChunkList([{ id: c0.id, size: Math.max(1, c0.size - 1) }])]);
  forged.push(['size too large for its chunk', encodeChunkList([{ id: c0.id, size: c0.size + 1000 }])]);
  forged.push(['4 GiB declared for a small chunk', encodeChunkList([{ id: chunkIds[chunkIds.length - 1].id, size: 0xffffffff }])]);
  forged.push(['chunk that is not stored', encodeChunkList([{ id: randomBytes(32), size: 10 }])]);
  forged.push(['list naming itself (a chunk list as data)', encodeChunkList([{ id: refs[2].root, size: lists[2].length }])]);
  const tally = new Tally();
  const check = async (blob: Uint8Array, label: string): Promise<void> => {
    const root = await s.putChunk(blob, hex(blob));
    const rootB = Buffer.from(root, 'hex');
    let list;
    try {
      list = await s.chunkList(rootB);
    } catch (e) {
      assert.ok(expected(e), `${label}: chunkList threw ${String(e)}`);
      tally.add(`list refused (${(e as Error).name})`);
      await assert.rejects(s.readAll(rootB), (e2) => expected(e2));
      return;
    }
    assert.equal(blob.length, LIST_HEADER + LIST_ENTRY * list.length);
    const total = list.reduce((a, c) => a + c.size, 0);
    assert.equal(await s.size(rootB), total);
    await s.missing(rootB);
    // Read a bounded window (a lying list can declare terabytes).
    const len = Math.min(total, 4 * 1024 * 1024);
    let got: Uint8Array;
    try {
      got = await s.read(rootB, 0, len);
    } catch (e) {
      assert.ok(expected(e), `${label}: read threw ${String(e)}`);
      tally.add(`read refused (${(e as Error).name})`);
      return;
    }
    // Oracle: the bytes must be the named chunks, each exactly as long as the list says.
    const want: Buffer[] = [];
    let have = 0;
    for (const c of list) {
      if (have >= len) break;
      const data = await s.getChunk(Buffer.from(c.id).toString('hex'));
      assert.ok(data, `${label}: read succeeded although chunk ${Buffer.from(c.id).toString('hex')} is missing`);
      assert.equal(data.length, c.size, `${label}: read succeeded although the list says ${c.size} bytes for a chunk of ${data.length}`);
      want.push(Buffer.from(data));
      have += data.length;
    }
    assert.deepEqual(Buffer.from(got), Buffer.concat(want).subarray(0, len), `${label}: read returned other bytes than the chunks`);
    tally.add('read ok, bytes verified');
  };
  const lies: string[] = [];
  for (const [what, blob] of forged) {
    const before = tally.total;
    try {
      await check(blob, what);
      lies.push(`${what}: ${[...tally.counts.keys()].at(-1)}`);
    } catch (e) {
      lies.push(`${what}: FAILED (${(e as Error).message.split('\n')[0]})`);
      tally.add('BUG');
    }
    void before;
  }
  const n = budget(600, 20_000);
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: lists.length - 1 }), mutationsArb, async (i, ms) => {
    await check(mutate(lists[i], ms), 'mutated list');
  }), { numRuns: n });
  const bad = tally.counts.get('BUG') ?? 0;
  rec.row({ section: 'fuzz', what: 'chunk-list responses: hand-made lying lists (' + forged.map((f) => f[0]).join('; ') + ')', cases: forged.length, outcome: lies.join('; '), ok: bad === 0 });
  rec.row({ section: 'fuzz', what: 'chunk-list responses: real lists with 1-4 byte mutations, then chunkList/size/missing/read', cases: n, outcome: [...tally.counts.entries()].filter(([k]) => k !== 'BUG').map(([k, v]) => `${k}: ${v}`).join('; '), ok: true });
  assert.equal(bad, 0, lies.join('\n'));
});
