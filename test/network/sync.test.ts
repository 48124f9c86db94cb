import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { Kind, type Entry } from '../../src/log/entry.ts';
import { createEntry } from '../../src/log/sign.ts';
import { FramedStream } from '../../src/network/frame.ts';
import { NET_LIMITS, SYNC_VERSION, encodeMessage, decodeMessage } from '../../src/network/messages.ts';
import { ArrivalIndex } from '../../src/network/reconcile.ts';
import { pullSession, serveSession, NameMismatchError, type PullOptions } from '../../src/network/sync.ts';
import { bootstrap, chain } from './lib/logs.ts';
import { channelPair } from '../../harness/pair.ts';

const kp = generateKeyPair();
const dirs: string[] = [];
const open: Filesystem[] = [];
after(async () => {
  for (const f of open) await f.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function fsWith(name: string, entries: Entry[]): Promise<Filesystem> {
  const h = mkdtempSync(join(tmpdir(), 'bfs-sync-'));
  dirs.push(h);
  const fs = await Filesystem.open(h, name, null, { allowEmpty: true });
  open.push(fs);
  for (let i = 0; i < entries.length; i += 2000) {
    const rep = await fs.ingest(entries.slice(i, i + 2000).map((e) => e.bytes));
    assert.equal(rep.rejected.length, 0);
  }
  return fs;
}

// A pulls from B over an in-memory pipe; returns the pull result and the bytes both ways.
async function pull(a: Filesystem, b: Filesystem, o: Partial<PullOptions> = {}) {
  const [ca, cb] = channelPair();
  const fa = new FramedStream(ca, NET_LIMITS.maxFrameBytes, 10_000);
  const fb = new FramedStream(cb, NET_LIMITS.maxFrameBytes, 10_000);
  const ia = new ArrivalIndex(a.dag);
  const ib = new ArrivalIndex(b.dag);
  let peerHeads: string[] = [];
  const [res, srv] = await Promise.all([
    pullSession(a, fa, { index: ia, ...o }),
    serveSession(b, fb, { index: ib, onHello: (h) => (peerHeads = h) }).catch((e) => e as Error),
  ]);
  return { res, srv, bytes: fa.bytesIn + fa.bytesOut, peerHeads };
}

const boot = bootstrap(kp, 'syncfs');
const base = chain(kp, boot, [boot], 5000, 'd');

test('equal logs: one HELLO each way, a few hundred bytes', async () => {
  const a = await fsWith('syncfs', [boot, ...base]);
  const b = await fsWith('syncfs', [boot, ...base]);
  const { res, bytes } = await pull(a, b);
  assert.equal(res.received, 0);
  assert.equal(res.rounds, 0);
  assert.ok(res.complete);
  assert.ok(bytes < 400, `${bytes} bytes`);
});

test('one-entry difference between two 5000-entry logs: under 2 KB, both directions', async () => {
  const extraB = chain(kp, boot, [base[base.length - 1]], 1, 'b');
  const extraA = chain(kp, boot, [base[base.length - 1]], 1, 'a');
  const a = await fsWith('syncfs', [boot, ...base, ...extraA]);
  const b = await fsWith('syncfs', [boot, ...base, ...extraB]);
  const ab = await pull(a, b);
  assert.equal(ab.res.accepted, 1);
  assert.ok(ab.res.complete);
  assert.ok(ab.peerHeads.includes(extraA[0].idHex), 'the responder learns the puller heads');
  const ba = await pull(b, a);
  assert.ok(ba.res.accepted >= 1);
  assert.deepEqual([...a.dag.heads].sort(), [...b.dag.heads].sort());
  assert.equal(a.state.viewDigest(), b.state.viewDigest());
  assert.ok(ab.bytes < 2048 && ba.bytes < 2048, `${ab.bytes} + ${ba.bytes} bytes`);
});

test('many-entry difference: bytes proportional to the difference', async () => {
  const extra = chain(kp, boot, [base[base.length - 1]], 2000, 'm');
  const a = await fsWith('syncfs', [boot, ...base]);
  const b = await fsWith('syncfs', [boot, ...base, ...extra]);
  const { res, bytes } = await pull(a, b);
  assert.equal(res.accepted, 2000);
  assert.equal(res.duplicates, 0);
  const entryBytes = extra.reduce((s, e) => s + e.bytes.length, 0);
  assert.ok(bytes < entryBytes * 1.05 + 2048, `${bytes} bytes for ${entryBytes} bytes of entries`);
  assert.equal(a.dag.size, b.dag.size);
});

test('empty node fetches the whole log; a partial one resumes with the rest', async () => {
  const b = await fsWith('syncfs', [boot, ...base]);
  const a = await fsWith('syncfs', [boot, ...base.slice(0, 1234)]);
  const r1 = await pull(a, b);
  assert.equal(r1.res.accepted, 5000 - 1234);
  assert.equal(r1.res.duplicates, 0);
  const e = await fsWith('syncfs', []);
  const seen: number[] = [];
  const r2 = await pull(e, b, { expectName: 'syncfs', onProgress: (p) => seen.push(p.received) });
  assert.equal(r2.res.accepted, 5001);
  assert.equal(e.dag.fsIdHex, boot.idHex);
  assert.ok(seen.length >= 1 && seen[seen.length - 1] === 5001);
});

test('empty node refuses a peer serving another name', async () => {
  const b = await fsWith('syncfs', [boot, ...base.slice(0, 10)]);
  const e = await fsWith('otherfs', []);
  const { res } = await pull(e, b, { expectName: 'otherfs' }).catch((err) => ({ res: err as Error }));
  assert.ok(res instanceof NameMismatchError, String(res));
  assert.match((res as Error).message, /serves filesystem "syncfs"/);
  assert.equal(e.dag.size, 0);
});

test('a different filesystem is refused by both sides', async () => {
  const other = bootstrap(generateKeyPair(), 'syncfs');
  const a = await fsWith('syncfs', [other]);
  const b = await fsWith('syncfs', [boot, ...base.slice(0, 10)]);
  const r = await pull(a, b).catch((e) => e as Error);
  assert.ok(r instanceof Error);
  assert.equal(a.dag.size, 1);
});

test('a lying responder: forged entries are rejected, nothing applied', async () => {
  const a = await fsWith('syncfs', [boot, ...base.slice(0, 10)]);
  const [ca, cb] = channelPair();
  const fa = new FramedStream(ca, NET_LIMITS.maxFrameBytes, 5000);
  const fb = new FramedStream(cb, NET_LIMITS.maxFrameBytes, 5000);
  const good = chain(kp, boot, [base[9]], 1, 'z')[0];
  const forged = new Uint8Array(good.bytes);
  forged[forged.length - 1] ^= 1;
  const liar = (async () => {
    const h = decodeMessage((await fb.read())!);
    assert.equal(h.t, 'hello');
    await fb.write(encodeMessage({ t: 'hello', version: SYNC_VERSION, fsId: boot.id, name: 'syncfs', heads: [good.id], entries: 12, headCount: 1 }));
    const w = decodeMessage((await fb.read())!);
    assert.equal(w.t, 'want');
    await fb.write(encodeMessage({ t: 'count', entries: 2, bytes: forged.length + 3 }));
    await fb.write(encodeMessage({ t: 'entries', entries: [forged, new Uint8Array([1, 2, 3])] }));
    await fb.write(encodeMessage({ t: 'end', sent: 2 }));
    while (await fb.read().catch(() => null)) { /* drain */ }
    await fb.close();
  })();
  const res = await pullSession(a, fa, { index: new ArrivalIndex(a.dag) });
  await liar;
  assert.equal(res.rejected, 2);
  assert.equal(res.accepted, 0);
  assert.equal(res.complete, false);
  assert.equal(a.dag.size, 11);
});

// More heads than one HELLO holds (here 3,000 concurrent writes): the puller pages through
// them and gets every one; with the paging bound lowered it says the log is incomplete.
test('3,000 heads: paged past one HELLO, complete; a truncated list is reported, never complete', async () => {
  const siblings = Array.from({ length: 3000 }, (_, i) => createEntry(kp, { kind: Kind.MKDIR, path: `/sib${i}`, fsId: boot.id, deps: [base[base.length - 1].id], mode: 0o755 }));
  const b = await fsWith('syncfs', [boot, ...base, ...siblings]);
  assert.equal(b.dag.heads.size, 3000);
  const a = await fsWith('syncfs', [boot, ...base]);
  const { res } = await pull(a, b);
  assert.equal(res.peerHeads.length, 3000, 'every head listed');
  assert.equal(res.complete, true, res.incomplete);
  assert.equal(a.state.viewDigest(), b.state.viewDigest());

  const c = await fsWith('syncfs', [boot, ...base]);
  const saved = NET_LIMITS.maxHeadsTotal;
  NET_LIMITS.maxHeadsTotal = 2048;
  try {
    const r2 = (await pull(c, b)).res;
    assert.equal(r2.complete, false);
    assert.match(r2.incomplete, /3000 heads; 2048 were listed/);
  } finally {
    NET_LIMITS.maxHeadsTotal = saved;
  }
});

// A responder that answers HELLO, announces a 4 MiB frame and then sends a byte now and then
// (each within the silence timeout) is cut off by the rate floor, not served for ever.
test('a responder that dribbles a frame is cut off by the rate floor', async () => {
  const a = await fsWith('syncfs', [boot, ...base.slice(0, 10)]);
  const [ca, cb] = channelPair();
  const fa = new FramedStream(ca, NET_LIMITS.maxFrameBytes, 2000);
  fa.minRate = NET_LIMITS.syncMinRate;
  fa.graceMs = 1500; // 30 s in a node; shortened here
  const fb = new FramedStream(cb, NET_LIMITS.maxFrameBytes, 2000);
  let stop = false;
  const evil = (async () => {
    await fb.read();
    await fb.write(encodeMessage({ t: 'hello', version: SYNC_VERSION, fsId: boot.id, name: 'syncfs', heads: [base[20].id], entries: 30, headCount: 1 }));
    await fb.read(); // WANT
    cb.send(new Uint8Array([0x80, 0x80, 0x80, 0x02])); // length prefix of a 4 MiB frame
    while (!stop) {
      cb.send(new Uint8Array([1]));
      await new Promise((r) => setTimeout(r, 500)); // well inside the 2 s silence timeout
    }
  })();
  const t0 = Date.now();
  const r = await pullSession(a, fa, { index: new ArrivalIndex(a.dag) }).catch((e) => e as Error);
  stop = true;
  await evil;
  assert.ok(r instanceof Error, 'the pull failed');
  assert.match(r.message, /slower than 1024 bytes\/s/);
  assert.ok(Date.now() - t0 < 20_000);
});
