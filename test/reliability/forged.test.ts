// Forged and hostile entries delivered as a peer would (Filesystem.ingest): each is rejected
// and counted, or (unauthorized / revoked authors) kept for audit but never shown in the view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEntry } from '../../src/log/sign.ts';
import { encodeBody, assemble } from '../../src/log/codec.ts';
import { Kind, LIMITS, type Entry, type EntryFields } from '../../src/log/entry.ts';
import { generateKeyPair, signBytes, type KeyPair } from '../../src/crypto/keys.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { Filesystem, type IngestReport } from '../../src/node/filesystem.ts';
import { Recorder } from './lib/results.ts';
import { join } from 'node:path';
import { makeFs, replica } from './lib/fsutil.ts';

const rec = new Recorder(import.meta.url);

function heads(fs: Filesystem): Uint8Array[] {
  return fs.dag.headIds();
}

// Signs arbitrary fields without createEntry's checks (what an attacker's own code would do).
function rawSigned(kp: KeyPair, f: Partial<EntryFields> & { kind: Kind; path: string }): Uint8Array {
  const full: EntryFields = { fsId: new Uint8Array(0), author: kp.publicKey, time: Date.now(), deps: [], target: '', name: '', key: new Uint8Array(0), root: new Uint8Array(0), size: 0, mode: 0, mtime: 0, owner: '', group: '', ...f };
  const body = encodeBody(full);
  return assemble(full, body, signBytes(kp.privateKey, body)).bytes;
}

interface Case {
  what: string;
  expect: string; // words for the table
  run: () => Promise<string>; // returns the outcome; throws on a wrong outcome
}

test('forged and hostile entries are rejected and counted, or kept for audit out of the view', async (t) => {
  const { fs: a, kp: root } = await makeFs(t);
  const b = await replica(t, a);
  const fsId = a.fsId;
  const x = generateKeyPair(); // a stranger
  const y = generateKeyPair(); // granted, later revoked
  await a.mkdir('/g');
  await a.grant(y.publicKey, '/g');
  await b.ingest([...a.dag.ordered()].map((n) => n.entry.bytes));
  const base = b.state.viewDigest();
  const cases: Case[] = [];
  const counters = () => ({ ...b.counters });

  const expectRejected = async (bytes: Uint8Array[], reason: RegExp): Promise<string> => {
    const c0 = counters();
    const d0 = b.state.viewDigest();
    const n0 = b.dag.size;
    const rep: IngestReport = await b.ingest(bytes);
    assert.equal(rep.accepted.length, 0, 'nothing accepted');
    assert.equal(rep.rejected.length, bytes.length, `all rejected: ${JSON.stringify(rep)}`);
    for (const r of rep.rejected) assert.match(r.reason, reason);
    assert.equal(b.counters.rejected, c0.rejected + bytes.length, 'counted in Filesystem.counters.rejected');
    assert.equal(b.dag.size, n0);
    assert.equal(b.state.viewDigest(), d0);
    return `rejected (${rep.rejected[0].reason}), counters.rejected +${bytes.length}, view unchanged`;
  };

  cases.push({ what: 'wrong filesystem id (validly signed by the root key of another filesystem id)', expect: 'rejected', run: () =>
    expectRejected([createEntry(root, { kind: Kind.MKDIR, path: '/w', fsId: sha256(Buffer.from('other fs')), deps: heads(b) }).bytes], /filesystem id/) });

  cases.push({ what: 'bad signature (one bit of the signature flipped)', expect: 'rejected', run: () => {
    const e = createEntry(root, { kind: Kind.MKDIR, path: '/sig', fsId, deps: heads(b) });
    const bytes = new Uint8Array(e.bytes);
    bytes[bytes.length - 10] ^= 4;
    return expectRejected([bytes], /signature/);
  } });

  cases.push({ what: "author field set to the root key, signed by a stranger's key", expect: 'rejected', run: () => {
    const body = encodeBody({ kind: Kind.MKDIR, fsId, author: root.publicKey, time: Date.now(), deps: heads(b), path: '/impostor', target: '', name: '', key: new Uint8Array(0), root: new Uint8Array(0), size: 0, mode: 0o755, mtime: 0, owner: '', group: '' });
    const e = new Uint8Array([...body, ...signBytes(x.privateKey, body)]);
    return expectRejected([e], /signature/);
  } });

  cases.push({ what: 'far-future timestamp (now + 1 hour; limit now + 10 min)', expect: 'rejected', run: () =>
    expectRejected([createEntry(root, { kind: Kind.MKDIR, path: '/future', fsId, deps: heads(b), time: Date.now() + 3600_000 }).bytes], /future/) });

  cases.push({ what: 'timestamp now + 5 min (within the allowed skew)', expect: 'accepted', run: async () => {
    const rep = await b.ingest([createEntry(root, { kind: Kind.MKDIR, path: '/nearfuture', fsId, deps: heads(b), time: Date.now() + 300_000 }).bytes]);
    assert.equal(rep.accepted.length, 1);
    assert.ok(b.state.lookup('/nearfuture'));
    return 'accepted and shown';
  } });

  cases.push({ what: 'second bootstrap entry (another root key claiming the filesystem name)', expect: 'rejected', run: async () => {
    const c0 = b.counters.rejected;
    const rep = await b.ingest([createEntry(x, { kind: Kind.BOOTSTRAP, path: '/', name: b.name }).bytes]);
    assert.equal(rep.accepted.length, 0);
    assert.equal(rep.rejected.length, 1);
    assert.equal(b.counters.rejected, c0 + 1);
    assert.equal(b.dag.fsIdHex, a.dag.fsIdHex);
    return `rejected (${rep.rejected[0].reason})`;
  } });

  for (const [what, path, re] of [
    ['path with `..` component', '/g/../etc', /\.\./],
    ['path that is only `..`', '/..', /\.\./],
    ['NUL byte in a name', '/a\0b', /NUL/],
    ['relative path', 'etc/passwd', /absolute/],
    ['empty component (`//`)', '/a//b', /empty/],
    [`name of ${LIMITS.maxNameBytes + 1} bytes`, '/' + 'n'.repeat(LIMITS.maxNameBytes + 1), /longer|name/],
    [`path of ${LIMITS.maxPathBytes + 1} bytes`, '/' + Array.from({ length: 17 }, () => 'p'.repeat(240)).join('/').slice(0, LIMITS.maxPathBytes), /longer|exceeds/],
  ] as [string, string, RegExp][]) {
    cases.push({ what: `${what}, validly signed by the root key`, expect: 'rejected', run: () => expectRejected([rawSigned(root, { kind: Kind.MKDIR, path, fsId, deps: heads(b) })], re) });
  }

  cases.push({ what: `${LIMITS.maxDeps + 1} deps (above the limit)`, expect: 'rejected', run: () => {
    const deps = Array.from({ length: LIMITS.maxDeps + 1 }, (_, i) => sha256(Buffer.from([i & 255, i >> 8]))).sort(Buffer.compare);
    return expectRejected([rawSigned(root, { kind: Kind.MKDIR, path: '/many', fsId, deps })], /deps/);
  } });

  cases.push({ what: `entry bigger than ${LIMITS.maxEntryBytes} bytes`, expect: 'rejected', run: () => {
    // Every field within its own limit, the whole above LIMITS.maxEntryBytes.
    const deps = heads(b).concat(Array.from({ length: LIMITS.maxDeps - heads(b).length }, (_, i) => sha256(Buffer.from([i, 1])))).sort(Buffer.compare);
    const long = ('/' + Array.from({ length: 17 }, () => 'q'.repeat(250)).join('/')).slice(0, LIMITS.maxPathBytes);
    const bytes = rawSigned(root, { kind: Kind.RENAME, path: long, target: '/r' + long.slice(2), fsId, deps });
    assert.ok(bytes.length > LIMITS.maxEntryBytes, String(bytes.length));
    return expectRejected([bytes], /exceeds/);
  } });

  cases.push({ what: 'unauthorized key writes (a stranger, no grant)', expect: 'refused: not stored, a small audit record', run: async () => {
    const e = createEntry(x, { kind: Kind.MKDIR, path: '/stranger', fsId, deps: heads(b) });
    const r0 = b.refused.total;
    const rep = await b.ingest([e.bytes]);
    assert.equal(rep.accepted.length, 0, 'not stored');
    assert.match(rep.rejected[0].reason, /holds no grant covering \/stranger/);
    assert.equal(b.dag.has(e.idHex), false);
    assert.equal(b.refused.total, r0 + 1);
    assert.ok(b.refused.list().some((r) => r.id === e.idHex), 'audit record kept');
    assert.equal(b.state.lookup('/stranger'), null, 'not in the view');
    const child = createEntry(root, { kind: Kind.MKDIR, path: '/on-stranger', fsId, deps: [e.id] });
    const rc = await b.ingest([child.bytes]);
    assert.match(rc.rejected[0]?.reason ?? '', /depends on refused entry/, 'an entry built on it is refused too');
    return 'refused (not stored, served or relayed); audit record kept; an entry built on it refused';
  } });

  cases.push({ what: 'unauthorized key grants itself `/` and then writes', expect: 'both refused', run: async () => {
    const g = createEntry(x, { kind: Kind.GRANT, path: '/', key: x.publicKey, fsId, deps: heads(b) });
    const rg = await b.ingest([g.bytes]);
    const w = createEntry(x, { kind: Kind.MKDIR, path: '/selfgranted', fsId, deps: [g.id] });
    const rw = await b.ingest([w.bytes]);
    assert.equal(rg.rejected.length, 1);
    assert.equal(rw.rejected.length, 1);
    assert.equal(b.dag.has(g.idHex) || b.dag.has(w.idHex), false);
    assert.equal(b.state.lookup('/selfgranted'), null);
    return `grant refused (${rg.rejected[0].reason.slice(0, 40)}...), write on it refused`;
  } });

  cases.push({ what: 'granted key writes outside its grant (/g granted, writes /h)', expect: 'refused', run: async () => {
    const w = createEntry(y, { kind: Kind.MKDIR, path: '/h', fsId, deps: heads(b) });
    const r = await b.ingest([w.bytes]);
    assert.equal(r.rejected.length, 1);
    assert.equal(b.dag.has(w.idHex), false);
    assert.equal(b.state.lookup('/h'), null);
    return `refused (${r.rejected[0].reason})`;
  } });

  cases.push({ what: 'revoked key: entry before the revoke, after it, and concurrent with it', expect: 'before valid; after and concurrent invalid', run: async () => {
    const before = createEntry(y, { kind: Kind.MKDIR, path: '/g/before', fsId, deps: heads(b) });
    await b.ingest([before.bytes]);
    const fork = heads(b);
    const revoke = createEntry(root, { kind: Kind.REVOKE, path: '/g', key: y.publicKey, fsId, deps: fork });
    const concurrent = createEntry(y, { kind: Kind.MKDIR, path: '/g/concurrent', fsId, deps: fork });
    await b.ingest([revoke.bytes, concurrent.bytes]);
    const after = createEntry(y, { kind: Kind.MKDIR, path: '/g/after', fsId, deps: heads(b) });
    await b.ingest([after.bytes]);
    assert.equal(b.state.isValid(before.idHex), true, 'before the revoke: valid');
    assert.ok(b.state.lookup('/g/before'));
    assert.equal(b.state.isValid(concurrent.idHex), false, 'concurrent with the revoke: invalid');
    assert.equal(b.state.isValid(after.idHex), false, 'after the revoke: invalid');
    assert.equal(b.state.lookup('/g/concurrent'), null);
    assert.equal(b.state.lookup('/g/after'), null);
    return 'before: valid and shown; concurrent and after: kept, invalid, not shown';
  } });

  cases.push({ what: 'revoked key stamps an entry now + 9 min (admitted: its grant is in its past; invalid)', expect: "the next local entry does not take its time", run: async () => {
    // y's grant at /g was revoked above; an entry of y after the revoke is kept but invalid
    const late = createEntry(y, { kind: Kind.MKDIR, path: '/g/late', fsId, deps: heads(b), time: Date.now() + 9 * 60_000 });
    const r = await b.ingest([late.bytes]);
    assert.equal(r.accepted.length, 1);
    assert.equal(b.state.isValid(late.idHex), false);
    b.kp = root;
    const mine = await b.mkdir('/after-poison');
    assert.ok(mine.time < Date.now() + 60_000, `local entry took the poisoned time ${mine.time - Date.now()} ms ahead`);
    assert.ok(!mine.deps.some((d) => Buffer.from(d).toString('hex') === late.idHex), 'an invalid head is never a dep');
    b.kp = null;
    return `local entry stamped ${mine.time - Date.now()} ms from now, its deps exclude the invalid head`;
  } });

  cases.push({ what: '300 concurrent valid heads, then a batch commit (the FUSE write-back path)', expect: 'at most 256 deps, log reopens', run: async () => {
    const fork = heads(b);
    const sibs = Array.from({ length: 300 }, (_, i) => createEntry(root, { kind: Kind.MKDIR, path: `/wide${i}`, fsId, deps: fork }));
    const r = await b.ingest(sibs.map((e) => e.bytes));
    assert.equal(r.accepted.length, 300);
    b.kp = root;
    const out = await b.commitMany([{ kind: Kind.MKDIR, path: '/batch1', mode: 0o755 }, { kind: Kind.MKDIR, path: '/batch2', mode: 0o755 }]);
    b.kp = null;
    assert.ok(out[0].deps.length <= LIMITS.maxDeps, `${out[0].deps.length} deps`);
    assert.ok(b.state.lookup('/batch2'));
    return `first entry of the batch has ${out[0].deps.length} deps (cap ${LIMITS.maxDeps}); the rest stay heads`;
  } });

  cases.push({ what: 'replay of the whole log (every entry again, twice)', expect: 'duplicates, no change', run: async () => {
    const all = [...b.dag.ordered()].map((n) => n.entry.bytes);
    const d0 = b.state.viewDigest();
    const dup0 = b.counters.duplicates;
    const n0 = b.dag.size;
    const rep = await b.ingest([...all, ...all]);
    assert.equal(rep.accepted.length, 0);
    assert.equal(rep.duplicates, all.length * 2);
    assert.equal(b.counters.duplicates, dup0 + all.length * 2);
    assert.equal(b.dag.size, n0);
    assert.equal(b.state.viewDigest(), d0);
    return `${all.length * 2} duplicates counted, nothing applied, view unchanged`;
  } });

  let orphanIds: string[] = [];
  let parkedTotal = 0;
  cases.push({ what: '200 entries claiming deps that never arrive', expect: 'parked, never applied', run: async () => {
    const p0 = b.counters.parked;
    const parked0 = b.dag.parked.size;
    const orphans: Entry[] = [];
    for (let i = 0; i < 200; i++) orphans.push(createEntry(root, { kind: Kind.MKDIR, path: `/orphan${i}`, fsId, deps: [sha256(Buffer.from('ghost' + i))] }));
    const rep = await b.ingest(orphans.map((e) => e.bytes));
    assert.equal(rep.parked, 200);
    assert.equal(rep.accepted.length, 0);
    assert.equal(rep.missing.length, 200, 'the missing deps are reported for fetching');
    assert.equal(b.counters.parked, p0 + 200);
    assert.equal(b.dag.parked.size, parked0 + 200);
    for (const e of orphans) assert.equal(b.state.lookup(e.path), null);
    orphanIds = orphans.map((e) => e.idHex);
    parkedTotal = b.dag.parked.size;
    return `parked: ${rep.parked}, deps reported missing: ${rep.missing.length}, applied: 0; parking bound ${b.dag.limits.entries} entries / ${b.dag.limits.bytes} bytes per filesystem`;
  } });

  cases.push({ what: 'a parked entry whose missing dep then arrives', expect: 'applied with it', run: async () => {
    const dep = createEntry(root, { kind: Kind.MKDIR, path: '/late-parent', fsId, deps: heads(b) });
    const child = createEntry(root, { kind: Kind.MKDIR, path: '/late-parent/child', fsId, deps: [dep.id] });
    const r1 = await b.ingest([child.bytes]);
    assert.equal(r1.parked, 1);
    const r2 = await b.ingest([dep.bytes]);
    assert.deepEqual(r2.accepted.map((e) => e.idHex), [dep.idHex, child.idHex]);
    assert.ok(b.state.lookup('/late-parent/child'));
    return 'parked, then applied in causal order when the dep arrived';
  } });

  cases.push({ what: "a stranger's orphans fill the parking area (bound lowered to current + 50), then a legitimate entry arrives before its dep", expect: "the stranger's orphans are evicted first; the legitimate entry waits and applies", run: async () => {
    const saved = b.dag.limits.entries;
    b.dag.limits.entries = b.dag.parked.size + 50;
    try {
      const junk = Array.from({ length: 60 }, (_, i) => createEntry(x, { kind: Kind.MKDIR, path: `/junk${i}`, fsId, deps: [sha256(Buffer.from('nothing' + i))] }).bytes);
      const r1 = await b.ingest(junk);
      assert.equal(b.dag.parked.size, b.dag.limits.entries, 'the bound holds');
      const evicted0 = b.dag.counters.evicted;
      const dep = createEntry(root, { kind: Kind.MKDIR, path: '/starved', fsId, deps: heads(b) });
      const child = createEntry(root, { kind: Kind.MKDIR, path: '/starved/child', fsId, deps: [dep.id] });
      const r2 = await b.ingest([child.bytes]);
      assert.equal(r2.parked, 1, 'a key with a grant pushes out a stranger orphan');
      assert.ok(b.dag.counters.evicted > evicted0);
      const r3 = await b.ingest([dep.bytes]);
      assert.deepEqual(r3.accepted.map((e) => e.idHex), [dep.idHex, child.idHex]);
      assert.ok(b.state.lookup('/starved/child'));
      return `${r1.parked} stranger orphans parked, ${r1.full} turned away at the bound; the legitimate early child parked by evicting ${b.dag.counters.evicted - evicted0} stranger orphan(s) and applied when its dep arrived`;
    } finally {
      b.dag.limits.entries = saved;
    }
  } });

  const results: string[] = [];
  for (const c of cases) {
    let outcome: string;
    let ok = true;
    try {
      outcome = await c.run();
    } catch (e) {
      ok = false;
      outcome = `UNEXPECTED: ${(e as Error).message.split('\n')[0]}`;
    }
    results.push(`${ok ? 'ok ' : 'BAD'} ${c.what}: ${outcome}`);
    rec.row({ section: 'forged', what: c.what, cases: 1, outcome, ok });
  }
  assert.ok(b.state.viewDigest() !== base, 'legit entries did change the view');
  // Parked entries survive a restart and are still not applied.
  const home = b.dir.replace(/\/fs\/[^/]+$/, '');
  parkedTotal = b.dag.parked.size;
  await b.close();
  const b2 = await Filesystem.open(home, a.name, null);
  t.after(() => b2.close().catch(() => {}));
  assert.equal(b2.dag.parked.size, parkedTotal, 'parked entries reloaded from disk');
  for (const id of orphanIds) assert.equal(b2.dag.has(id), false);
  assert.ok(b2.dag.get([...b2.dag.heads][0]));
  rec.row({ section: 'forged', what: 'restart of the node holding the parked entries above', cases: 1, outcome: `reloaded ${b2.dag.parked.size} parked entries from disk, none applied, audit entries still invalid`, ok: true });
  const bad = results.filter((r) => r.startsWith('BAD'));
  assert.equal(bad.length, 0, bad.join('\n'));
});

// Property: whatever hostile entries are mixed in (strangers' writes, grants and deletes of
// real paths, mutated copies, orphans, other filesystems), in whatever order, the view equals
// the view of a node that received only the legitimate entries.
import fc from 'fast-check';
import { budget } from './lib/results.ts';
import { mutate, mutationsArb, Tally } from './lib/mutate.ts';
import { tmpDir } from './lib/fsutil.ts';

function legitLog(seed: number, n: number, root: KeyPair, y: KeyPair): Entry[] {
  const r = fc.sample(fc.integer({ min: 0, max: 1 << 30 }), { seed, numRuns: n * 4 + 4 });
  const boot = createEntry(root, { kind: Kind.BOOTSTRAP, path: '/', name: 'mix', time: 1_000_000 });
  const fsId = boot.id;
  const log: Entry[] = [boot];
  const dirs = ['/a', '/b', '/a/c', '/y'];
  log.push(createEntry(root, { kind: Kind.MKDIR, path: '/y', fsId, deps: [boot.id], time: 1_000_001, mode: 0o755 }));
  log.push(createEntry(root, { kind: Kind.GRANT, path: '/y', key: y.publicKey, fsId, deps: [log[1].id], time: 1_000_002 }));
  for (let i = 0; i < n; i++) {
    const [a, b, c, d] = r.slice(i * 4, i * 4 + 4);
    const author = c % 4 === 0 ? y : root;
    const p1 = log[a % log.length];
    // an honest writer has its grant in its causal past (entries without one are refused)
    const p2 = author === y ? log[2] : log[b % log.length];
    const deps = p1 === p2 ? [p1.id] : [p1.id, p2.id].sort(Buffer.compare);
    const dir = author === y ? '/y' : dirs[c % dirs.length];
    const path = `${dir}/n${d % 5}`;
    const time = 1_000_010 + i;
    const kinds = [Kind.MKDIR, Kind.DELETE, Kind.SETATTR, Kind.SYMLINK, Kind.MKDIR, Kind.RENAME];
    const k = kinds[d % kinds.length];
    const draft = k === Kind.RENAME ? { kind: k, path, target: `${dir}/m${c % 3}` } : k === Kind.SYMLINK ? { kind: k, path, target: 'x' } : k === Kind.SETATTR ? { kind: k, path, mode: d % 0o777, mtime: d } : { kind: k, path, mode: 0o755 };
    log.push(createEntry(author, { ...draft, fsId, deps, time }));
    if (i === Math.floor(n / 2)) log.push(createEntry(root, { kind: Kind.MKDIR, path: '/a', fsId, deps: [log[log.length - 1].id], time, mode: 0o700 }));
  }
  return log;
}

test('ingest property: hostile entries mixed into a legitimate stream never change the view', { timeout: 300_000 }, async (t) => {
  const root = generateKeyPair();
  const y = generateKeyPair();
  const x = generateKeyPair();
  const n = budget(40, 800);
  const tally = new Tally();
  let fsNo = 0;
  const base = tmpDir(t, 'basefs-rel-mix-');
  await fc.assert(fc.asyncProperty(fc.integer(), fc.integer({ min: 3, max: 25 }), fc.array(fc.nat(), { minLength: 0, maxLength: 60 }), fc.array(mutationsArb, { maxLength: 8 }), fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), async (seed, size, order, muts, evil) => {
    const legit = legitLog(seed, size, root, y);
    const fsId = legit[0].id;
    const hostile: Uint8Array[] = [];
    for (let i = 0; i < evil.length; i++) {
      const v = evil[i];
      const target = legit[v % legit.length];
      const deps = [target.id];
      const paths = ['/a', '/y', '/a/c', '/b/n1', '/y/n2', '/'];
      const p = paths[v % paths.length];
      switch (v % 9) {
        case 0: hostile.push(createEntry(x, { kind: Kind.MKDIR, path: p === '/' ? '/z' : p, fsId, deps, time: target.time + 1, mode: 0o777 }).bytes); break;
        case 1: if (p !== '/') hostile.push(createEntry(x, { kind: Kind.DELETE, path: p, fsId, deps, time: target.time + 1 }).bytes); break;
        case 2: hostile.push(createEntry(x, { kind: Kind.GRANT, path: '/', key: x.publicKey, fsId, deps, time: target.time + 1 }).bytes); break;
        case 3: hostile.push(createEntry(y, { kind: Kind.MKDIR, path: '/a/yy', fsId, deps, time: target.time + 1 }).bytes); break; // outside y's grant
        case 4: hostile.push(createEntry(x, { kind: Kind.REVOKE, path: '/y', key: y.publicKey, fsId, deps, time: target.time + 1 }).bytes); break;
        case 5: hostile.push(createEntry(root, { kind: Kind.MKDIR, path: '/orphan', fsId, deps: [sha256(Buffer.from('ghost' + v))], time: 5 }).bytes); break;
        case 6: hostile.push(createEntry(root, { kind: Kind.MKDIR, path: '/other', fsId: sha256(Buffer.from('other')), deps, time: 5 }).bytes); break;
        case 7: hostile.push(createEntry(root, { kind: Kind.MKDIR, path: '/late', fsId, deps, time: Date.now() + 86_400_000 }).bytes); break;
        case 8: hostile.push(createEntry(x, { kind: Kind.BOOTSTRAP, path: '/', name: 'mix', time: 1_000_000 }).bytes); break;
      }
    }
    for (let i = 0; i < muts.length; i++) hostile.push(mutate(legit[i % legit.length].bytes, muts[i]));
    const stream: Uint8Array[] = legit.map((e) => e.bytes);
    for (let i = 0; i < order.length; i++) {
      const j = order[i] % stream.length;
      const k = i % stream.length;
      [stream[k], stream[j]] = [stream[j], stream[k]];
    }
    for (let i = 0; i < hostile.length; i++) stream.splice((order[i] ?? i * 7) % (stream.length + 1), 0, hostile[i]);
    const clean = await Filesystem.open(join(base, `c${fsNo}`), 'mix', null, { allowEmpty: true });
    const dirty = await Filesystem.open(join(base, `d${fsNo++}`), 'mix', null, { allowEmpty: true });
    try {
      await clean.ingest(legit.map((e) => e.bytes));
      // The node knows its filesystem (a fresh node trusts the bootstrap of the peer it
      // chose to `get` from; see the findings).
      await dirty.ingest([legit[0].bytes]);
      // Delivered in batches of random size, as sync and gossip would.
      for (let i = 0; i < stream.length;) {
        const k = 1 + ((order[i % Math.max(1, order.length)] ?? 3) % 7);
        const rep = await dirty.ingest(stream.slice(i, i + k));
        for (const r of rep.rejected) tally.add(`rejected: ${r.reason.replace(/[:(].*$/, '').replace(/\d+/g, 'N').trim()}`);
        i += k;
      }
      for (const e of legit) assert.ok(dirty.dag.has(e.idHex), 'every legitimate entry applied');
      for (const node of dirty.dag.ordered()) {
        const a = node.entry.author;
        assert.notEqual(Buffer.compare(a, x.publicKey), 0, 'a stranger entry never enters the log');
      }
      assert.equal(dirty.state.viewDigest(), clean.state.viewDigest(), 'same view as a node that saw only legitimate entries');
      tally.add('view identical to the clean node');
    } finally {
      await clean.close();
      await dirty.close();
    }
  }), { numRuns: n });
  rec.row({ section: 'forged', what: 'random legitimate logs (root + a key granted /y; MKDIR/DELETE/SETATTR/SYMLINK/RENAME) with hostile entries mixed in at random positions and batch sizes: stranger writes/deletes/grants/revokes, writes outside a grant, orphans, other filesystem ids, far-future times, a second bootstrap, byte-mutated copies', cases: n, outcome: tally.toString(), ok: true });
});
