import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeGossip, encodeGossip, decodeMessage, encodeMessage, gossipEntryBytes, NET_LIMITS, type SyncMessage } from '../../src/network/messages.ts';
import { FramedStream, TimeoutError } from '../../src/network/frame.ts';
import { ProtocolError } from '../../src/network/wire.ts';
import { RateLimiter } from '../../src/network/ratelimit.ts';
import { toMultiaddr, parseClusterFile } from '../../src/network/addr.ts';
import { channelPair } from '../../harness/pair.ts';

const id = () => new Uint8Array(randomBytes(32));

test('gossip message round trip, with and without inline chunks', () => {
  const entry = new Uint8Array(randomBytes(300));
  const chunks = [{ hash: id(), data: new Uint8Array(randomBytes(1000)) }, { hash: id(), data: new Uint8Array(0) }];
  const m = decodeGossip(encodeGossip({ entry, chunks }));
  assert.deepEqual(Buffer.from(m.entry), Buffer.from(entry));
  assert.equal(m.chunks.length, 2);
  assert.deepEqual(Buffer.from(m.chunks[0].hash), Buffer.from(chunks[0].hash));
  assert.deepEqual(Buffer.from(m.chunks[0].data), Buffer.from(chunks[0].data));
  const plain = encodeGossip({ entry, chunks: [] });
  assert.deepEqual(Buffer.from(gossipEntryBytes(plain)!), Buffer.from(entry));
  assert.equal(gossipEntryBytes(new Uint8Array([9, 9])), null);
});

test('gossip limits: oversized inline content, truncation, trailing bytes, bad version', () => {
  const entry = new Uint8Array(200);
  assert.throws(() => encodeGossip({ entry, chunks: [{ hash: id(), data: new Uint8Array(NET_LIMITS.maxGossipBytes) }] }), RangeError);
  const ok = encodeGossip({ entry, chunks: [{ hash: id(), data: new Uint8Array(10) }] });
  assert.throws(() => decodeGossip(ok.subarray(0, ok.length - 1)), ProtocolError);
  assert.throws(() => decodeGossip(Buffer.concat([ok, Buffer.from([0])])), ProtocolError);
  const bad = new Uint8Array(ok);
  bad[0] = 7;
  assert.throws(() => decodeGossip(bad), ProtocolError);
  // two inline chunks whose sum exceeds the inline limit
  const half = NET_LIMITS.maxInlineContent / 2 + 1;
  const w = [1, ...Buffer.from([0x80 | (200 & 0x7f), 200 >> 7]), ...entry, 2];
  const parts = [Buffer.from(w)];
  for (let i = 0; i < 2; i++) {
    parts.push(Buffer.from(id()));
    parts.push(Buffer.from([0x80 | (half & 0x7f), 0x80 | ((half >> 7) & 0x7f), half >> 14]));
    parts.push(Buffer.alloc(half));
  }
  assert.throws(() => decodeGossip(Buffer.concat(parts)), ProtocolError);
  assert.throws(() => decodeGossip(new Uint8Array(NET_LIMITS.maxGossipBytes + 1)), ProtocolError);
});

test('sync messages round trip', () => {
  const msgs: SyncMessage[] = [
    { t: 'hello', version: 1, fsId: id(), name: 'myfs', heads: [id(), id()], entries: 123456, headCount: 2 },
    { t: 'hello', version: 1, fsId: new Uint8Array(0), name: 'x', heads: [], entries: 0, headCount: 5000 },
    { t: 'want', want: [id()], have: [id(), id(), id()] },
    { t: 'count', entries: 5, bytes: 1500 },
    { t: 'entries', entries: [new Uint8Array(randomBytes(150)), new Uint8Array(randomBytes(2000))] },
    { t: 'end', sent: 2 },
    { t: 'done' },
    { t: 'error', message: 'nope' },
    { t: 'getchunks', hashes: [id(), id()] },
    { t: 'chunk', hash: id(), data: new Uint8Array(randomBytes(5000)) },
    { t: 'chunksend', missing: [id()] },
    { t: 'ack', frames: 2 },
  ];
  for (const m of msgs) {
    const d = decodeMessage(encodeMessage(m));
    assert.equal(JSON.stringify(d, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)), JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
  }
});

test('sync message limits: too many ids, unknown type, bad fsId, truncation', () => {
  const many = Array.from({ length: NET_LIMITS.maxWant + 1 }, id);
  assert.throws(() => decodeMessage(encodeMessage({ t: 'want', want: many, have: [] })), ProtocolError);
  assert.throws(() => decodeMessage(new Uint8Array([200])), ProtocolError);
  const h = encodeMessage({ t: 'hello', version: 1, fsId: new Uint8Array(5), name: 'a', heads: [], entries: 0, headCount: 0 });
  assert.throws(() => decodeMessage(h), ProtocolError);
  const c = encodeMessage({ t: 'chunk', hash: id(), data: new Uint8Array(100) });
  assert.throws(() => decodeMessage(c.subarray(0, 50)), ProtocolError);
  const e = encodeMessage({ t: 'entries', entries: [new Uint8Array(17 * 1024)] });
  assert.throws(() => decodeMessage(e), ProtocolError);
});

test('frames: reassembly across pieces, clean end, many frames', async () => {
  const [a, b] = channelPair();
  const fa = new FramedStream(a, 1 << 20, 5000);
  const fb = new FramedStream(b, 1 << 20, 5000);
  const sizes = [0, 1, 127, 128, 300, 16383, 16384, 70000, 5];
  for (const n of sizes) await fa.write(new Uint8Array(n).fill(n % 251));
  await fa.close();
  for (const n of sizes) {
    const f = await fb.read();
    assert.ok(f);
    assert.equal(f.length, n);
    if (n) assert.equal(f[n - 1], n % 251);
  }
  assert.equal(await fb.read(), null);
  assert.equal(fa.bytesOut, fb.bytesIn);
});

test('frames: a frame above the maximum is refused before it is buffered', async () => {
  const [a, b] = channelPair();
  const fa = new FramedStream(a, 1 << 20, 5000);
  const fb = new FramedStream(b, 1000, 5000);
  await fa.write(new Uint8Array(5000));
  await assert.rejects(fb.read(), ProtocolError);
});

test('frames: a silent peer times out', async () => {
  const [a] = channelPair();
  const fa = new FramedStream(a, 1000, 200);
  const t0 = Date.now();
  await assert.rejects(fa.read(), TimeoutError);
  assert.ok(Date.now() - t0 < 2000);
});

test('frames: stream ending inside a frame is an error', async () => {
  const [a, b] = channelPair();
  const fb = new FramedStream(b, 1000, 2000);
  a.send(new Uint8Array([10, 1, 2, 3]));
  await a.close();
  await assert.rejects(fb.read(), ProtocolError);
});

test('rate limiter: burst then steady rate', () => {
  const r = new RateLimiter(2, 5);
  let ok = 0;
  for (let i = 0; i < 10; i++) if (r.take('p', 1000)) ok++;
  assert.equal(ok, 5);
  assert.equal(r.take('p', 1400), false);
  assert.equal(r.take('p', 1600), true);
  assert.equal(r.take('q', 1600), true);
});

test('addresses: ip, ip:port, multiaddr, cluster file', () => {
  assert.equal(toMultiaddr('10.0.0.1', 12345).toString(), '/ip4/10.0.0.1/tcp/12345');
  assert.equal(toMultiaddr('10.0.0.1:4000', 12345).toString(), '/ip4/10.0.0.1/tcp/4000');
  assert.equal(toMultiaddr('/ip4/10.0.0.2/tcp/7', 1).toString(), '/ip4/10.0.0.2/tcp/7');
  assert.equal(toMultiaddr('[::1]:99', 1).toString(), '/ip6/::1/tcp/99');
  assert.throws(() => toMultiaddr('10.0.0.300', 1));
  assert.throws(() => toMultiaddr('10.0.0.1:99999', 1));
  assert.deepEqual(parseClusterFile('10.0.0.1\n\n# comment\n 10.0.0.2:5 # x\n/ip4/1.2.3.4/tcp/1\n'), ['10.0.0.1', '10.0.0.2:5', '/ip4/1.2.3.4/tcp/1']);
});
