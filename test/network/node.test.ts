// Two or three libp2p nodes in this process on 127.0.0.1 (port 0, no mDNS): the NetNode code
// paths without namespaces (these run without root too).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { Kind } from '../../src/log/entry.ts';
import { createEntry } from '../../src/log/sign.ts';
import { startNetwork, type NetNode } from '../../src/network/node.ts';
import { encodeGossip } from '../../src/network/messages.ts';

const kp = generateKeyPair();
const dirs: string[] = [];
const fss: Filesystem[] = [];
const nets: NetNode[] = [];
after(async () => {
  for (const n of nets) await n.stop().catch(() => {});
  for (const f of fss) await f.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'bfs-node-'));
  dirs.push(h);
  return h;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Periodic anti-entropy (NetOptions.syncIntervalMs) every hour: it never runs during this
// file, so each test passes only through the mechanism it names (sync on connect, gossip,
// sync triggered by missing deps); with a short interval a periodic sync would hide a broken
// trigger within the tests' bounds.
const NO_PERIODIC_SYNC = 3_600_000;

async function net(fs: Filesystem, h: string, join: string[] = []): Promise<NetNode> {
  const n = await startNetwork(fs, { port: 0, host: '127.0.0.1', join, mdns: false, home: h, syncIntervalMs: NO_PERIODIC_SYNC });
  nets.push(n);
  return n;
}

const h1 = home();
const h2 = home();
let fs1: Filesystem;
let fs2: Filesystem;
let n1: NetNode;
let n2: NetNode;

// Two nodes, node 2 joined to node 1 and synced: set up once, by whichever test runs first
// (so every test also runs alone, with --test-name-pattern).
let setup: Promise<void> | null = null;
function ready(): Promise<void> {
  setup ??= (async () => {
    fs1 = await Filesystem.create(h1, 'nodefs', kp, []);
    fss.push(fs1);
    for (let i = 0; i < 50; i++) await fs1.mkdir(`/d${i}`);
    await fs1.writeFile('/small.txt', Buffer.from('small file'));
    await fs1.writeFile('/big.bin', randomBytes(300 * 1024));
    n1 = await net(fs1, h1);
    fs2 = await Filesystem.open(h2, 'nodefs', kp, { allowEmpty: true });
    fss.push(fs2);
    n2 = await net(fs2, h2, [n1.addrs()[0]]);
    // (the dag grows before the durable append and the view update: wait for the view)
    await until('the log on node 2', () => fs2.dag.size === fs1.dag.size && fs2.state.viewDigest() === fs1.state.viewDigest());
    await until('the content on node 2', async () => (await fs2.content.missing(fs2.lookup('/big.bin')!.root!)).length === 0 && (await fs2.content.missing(fs2.lookup('/small.txt')!.root!)).length === 0);
    await n2.content.whenIdle();
  })();
  return setup;
}

test('a fresh node joins with -j, syncs the log and the content on connect', async () => {
  await ready();
  assert.match(n1.peerId, /^12D3Koo/);
  assert.ok(n1.addrs().some((a) => a.startsWith('/ip4/127.0.0.1/tcp/')));
  const key = join(fs1.dir, 'peer.key');
  assert.equal(statSync(key).mode & 0o777, 0o600);
  assert.deepEqual(Buffer.from(await fs2.readFile('/big.bin')), Buffer.from(await fs1.readFile('/big.bin')));
  assert.equal(Buffer.from(await fs2.readFile('/small.txt')).toString(), 'small file');
  const m1 = n1.members();
  assert.equal(m1.length, 1);
  assert.equal(m1[0].peerId, n2.peerId);
  assert.equal(m1[0].connected, true);
  assert.ok(m1[0].lastSeen! > 0);
});

test('a write is gossiped with its content inline, and back', async () => {
  await ready();
  await until('gossip mesh', () => n1.libp2p.services.pubsub.getSubscribers(n1.topic!).length > 0);
  const before = n2.resources().counters.chunksIn;
  await fs1.writeFile('/g.txt', Buffer.from('gossip'));
  await until('g.txt on node 2', () => !!fs2.lookup('/g.txt'));
  assert.equal(Buffer.from(await fs2.readFile('/g.txt')).toString(), 'gossip');
  assert.equal(n2.resources().counters.chunksIn, before, 'no chunk fetch: the content came inline');
  assert.ok(n2.resources().counters.gossipAccepted >= 1);
  await fs2.mkdir('/from2');
  await until('from2 on node 1', () => !!fs1.lookup('/from2'));
  const r = n1.resources();
  assert.ok(r.bytes.in > 0 && r.bytes.out > 0);
  assert.equal(n1.transfers().inTransfer, 0);
});

test('forged, unauthorized and foreign gossip is rejected and changes nothing', async () => {
  await ready();
  const digest = fs1.state.viewDigest();
  const evil = generateKeyPair();
  const heads = fs2.dag.headIds();
  const unauthorized = createEntry(evil, { kind: Kind.MKDIR, path: '/evil', fsId: fs2.fsId, deps: heads, mode: 0o755 });
  const forged = new Uint8Array(createEntry(kp, { kind: Kind.MKDIR, path: '/forged', fsId: fs2.fsId, deps: heads, mode: 0o755 }).bytes);
  forged[forged.length - 5] ^= 0xff;
  const foreign = createEntry(kp, { kind: Kind.MKDIR, path: '/x', fsId: new Uint8Array(32).fill(7), deps: heads, mode: 0o755 });
  const before = n1.resources().counters.gossipRejected;
  for (const e of [unauthorized.bytes, forged, foreign.bytes]) await n2.publishRaw(encodeGossip({ entry: e, chunks: [] }));
  await n2.publishRaw(new Uint8Array([1, 2, 3]));
  await until('rejections', () => n1.resources().counters.gossipRejected >= before + 4);
  assert.equal(fs1.state.viewDigest(), digest);
  assert.equal(fs1.lookup('/evil'), null);
  assert.equal(fs1.lookup('/forged'), null);
  // the unauthorized one is refused: not stored (so never served or relayed), one audit record
  assert.equal(fs1.dag.has(unauthorized.idHex), false);
  assert.ok(fs1.refused.list().some((r) => r.id === unauthorized.idHex && /holds no grant/.test(r.reason)));
});

test('an entry with missing deps makes the receiver sync with the sender', async () => {
  await ready();
  // node 2 writes three entries while its gossip is off; then only the last is gossiped
  const a = createEntry(kp, { kind: Kind.MKDIR, path: '/chain1', fsId: fs2.fsId, deps: fs2.dag.headIds(), mode: 0o755, time: Date.now() });
  const b = createEntry(kp, { kind: Kind.MKDIR, path: '/chain2', fsId: fs2.fsId, deps: [a.id], mode: 0o755, time: Date.now() });
  const c = createEntry(kp, { kind: Kind.MKDIR, path: '/chain3', fsId: fs2.fsId, deps: [b.id], mode: 0o755, time: Date.now() });
  const emit = fs2.emit.bind(fs2);
  fs2.emit = (() => true) as typeof fs2.emit; // silence 'entries' so nothing is published
  try {
    await fs2.ingest([a.bytes, b.bytes, c.bytes]);
  } finally {
    fs2.emit = emit;
  }
  await n2.publishRaw(encodeGossip({ entry: c.bytes, chunks: [] }));
  await until('the whole chain on node 1', () => fs1.dag.has(a.idHex) && fs1.dag.has(b.idHex) && fs1.dag.has(c.idHex), 15_000);
  assert.equal(fs1.dag.parked.size, 0);
});

test('restart keeps the peer id; stop is clean', async () => {
  await ready();
  const id = n1.peerId;
  await n1.stop();
  n1 = await net(fs1, h1);
  assert.equal(n1.peerId, id);
  // n2 may still hold the connection to the stopped node; its first stream can close under
  // it. Anti-entropy retries on its own; so does this test (bounded).
  let r: Awaited<ReturnType<typeof n2.syncWith>> | null = null;
  for (let i = 0; i < 10 && !r; i++) {
    try {
      r = await n2.syncWith(n1.addrs()[0]);
    } catch {
      await new Promise((res) => setTimeout(res, 300));
    }
  }
  assert.ok(r, 'sync with the restarted node succeeded within 10 tries');
  assert.equal(r.peerFsId, fs1.dag.fsIdHex);
  assert.ok(r.complete);
});

test('basefs get: fetches the log and the content, resumes, refuses another name', async () => {
  await ready();
  const { getFilesystem } = await import('../../src/network/get.ts');
  const h3 = home();
  const s = await getFilesystem(h3, 'nodefs', n1.addrs()[0], null);
  assert.equal(s.fsId, fs1.dag.fsIdHex);
  assert.equal(s.entries, fs1.dag.size);
  assert.equal(s.filesIncomplete, 0);
  assert.ok(s.files >= 3);
  const again = await getFilesystem(h3, 'nodefs', n1.addrs()[0], null);
  assert.equal(again.accepted, 0);
  const fs3 = await Filesystem.open(h3, 'nodefs', null);
  try {
    assert.equal(fs3.state.viewDigest(), fs1.state.viewDigest());
    assert.deepEqual(Buffer.from(await fs3.readFile('/big.bin')), Buffer.from(await fs1.readFile('/big.bin')));
  } finally {
    await fs3.close();
  }
  const h4 = home();
  await assert.rejects(getFilesystem(h4, 'wrongname', n1.addrs()[0], null), /serves filesystem "nodefs"/);
  assert.equal(existsSync(join(h4, 'fs', 'wrongname')), false, 'nothing left behind');
  await assert.rejects(getFilesystem(home(), 'nodefs', '127.0.0.1:1', null), /cannot connect/);
});

// The CLI as a user runs it, against n1 in this process (so asynchronously: n1 must answer).
test('basefs get with an overall timeout stops, says why and exits non-zero', async () => {
  await ready();
  const h5 = home();
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'basefs');
  const run = (extra: string[]) => new Promise<{ status: number | null; stderr: string }>((res) => {
    execFile(bin, ['--data-dir', h5, 'get', 'nodefs', n1.addrs()[0], '--id', fs1.dag.fsIdHex, '-q', ...extra], { encoding: 'utf8', timeout: 120_000 }, (err, _out, stderr) => res({ status: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }));
  });
  const r = await run(['--timeout', '0.001']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /stopped: the overall timeout \(0\.001 s\) passed/);
  assert.match((await run(['--timeout', 'soon'])).stderr, /--timeout must be a positive number of seconds/);
  const ok = await run([]);
  assert.equal(ok.status, 0, ok.stderr);
});
