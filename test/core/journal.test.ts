// Issue 18: the change journal (node/journal.ts) is written with the entries it follows from:
// folding every change from cursor 0 gives exactly the view, with consecutive cursors (none
// lost, none repeated), whatever order and batches entries arrive in, across reopens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Filesystem } from '../../src/node/filesystem.ts';
import { allPaths } from '../../src/node/viewsync.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { createEntry } from '../../src/log/sign.ts';
import { Kind } from '../../src/log/entry.ts';
import type { Change } from '../../src/node/journal.ts';
import { opArb, buildHistory } from './history-arb.ts';

async function allChanges(fs: Filesystem, after = 0): Promise<Change[]> {
  const out: Change[] = [];
  for (;;) {
    const page = await fs.journal.read(after, 7, fs.name);
    if (page.length === 0) return out;
    out.push(...page);
    after = page[page.length - 1].cursor;
  }
}

// path -> winning entry id ('' for an implicit directory), as the journal tells it.
function fold(changes: Change[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of changes) {
    if (c.op === 'removed') {
      assert.ok(m.has(c.path), `${c.path} removed at ${c.cursor} but never created`);
      m.delete(c.path);
    } else {
      assert.equal(m.has(c.path), c.op === 'changed', `${c.op} of ${c.path} at ${c.cursor}`);
      m.set(c.path, c.new);
    }
  }
  return m;
}

function viewMap(fs: Filesystem): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of allPaths(fs.state)) m.set(p, fs.state.lookup(p)!.entryId);
  return m;
}

test('journal folds to the view, consecutive cursors, random orders, batches and reopens', { timeout: 600_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 24 }), fc.nat(), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), async (ops, seed, batches, reopen) => {
      const entries = buildHistory(ops);
      const order = [...entries];
      let x = seed | 1;
      for (let i = order.length - 1; i > 1; i--) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        const j = 1 + (x % i);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const home = mkdtempSync(join(tmpdir(), 'basefs-jr-'));
      let fs = await Filesystem.open(home, 'p', null, { allowEmpty: true });
      try {
        let at = 0;
        let bi = 0;
        const heard: Change[] = [];
        const listen = (f: Filesystem) => f.on('changes', (c: Change[]) => heard.push(...c));
        listen(fs);
        while (at < order.length) {
          const n = batches[bi % batches.length];
          await fs.ingest(order.slice(at, at + n).map((e) => e.bytes));
          at += n;
          if (reopen[bi % reopen.length]) {
            await fs.close();
            fs = await Filesystem.open(home, 'p', null);
            listen(fs);
          }
          bi++;
          const all = await allChanges(fs);
          assert.deepEqual(all.map((c) => c.cursor), all.map((_, i) => i + 1), 'cursors 1..n, no gap, no repeat');
          assert.deepEqual(fold(all), viewMap(fs), 'journal folded = view');
          assert.deepEqual(heard, all, "'changes' events = the stored journal");
        }
      } finally {
        await fs.close().catch(() => {});
        rmSync(home, { recursive: true, force: true });
      }
    }),
    { numRuns: 25 },
  );
});

test('journal: what each change says; a refused entry is not journaled; bounded with a resync error', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'basefs-jr-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const kp = generateKeyPair();
  const fs = await Filesystem.create(home, 'j', kp, []);
  try {
    const start = fs.journal.durable;
    await fs.mkdir('/etc');
    const w = await fs.writeFile('/etc/a', Buffer.from('1'));
    const w2 = await fs.writeFile('/etc/a', Buffer.from('2'));
    const d = await fs.remove('/etc/a');
    const got = (await allChanges(fs, start)).map(({ time, cursor, ...c }) => c);
    const author = Buffer.from(kp.publicKey).toString('hex');
    assert.deepEqual(got.slice(1), [
      { path: '/etc/a', op: 'created', type: 'file', kind: 'WRITE', entry: w.idHex, old: '', new: w.idHex, author, conflict: false },
      { path: '/etc/a', op: 'changed', type: 'file', kind: 'WRITE', entry: w2.idHex, old: w.idHex, new: w2.idHex, author, conflict: false },
      { path: '/etc/a', op: 'removed', type: 'file', kind: 'DELETE', entry: d.idHex, old: w2.idHex, new: '', author, conflict: false },
    ]);
    // An entry by a key with no grant is refused at admission: no change, no cursor.
    const other = generateKeyPair();
    const bad = createEntry(other, { kind: Kind.WRITE, path: '/etc/b', root: w.root, size: 1, mode: 0o644, mtime: 1, fsId: fs.fsId, deps: fs.dag.headIds(), time: Date.now() });
    const before = fs.journal.durable;
    const rep = await fs.ingest([bad.bytes]);
    assert.equal(rep.rejected.length, 1);
    assert.equal(fs.journal.durable, before);
    // Bounded: once trimmed, a cursor before the oldest record is told to resync.
    fs.journal.limit = 3;
    for (let i = 0; i < 5; i++) await fs.writeFile('/etc/n' + i, Buffer.from(String(i)));
    assert.equal(fs.journal.durable - fs.journal.first + 1, 3);
    await assert.rejects(fs.journal.read(0, 10, 'j'), /no longer holds the changes after cursor 0.*--since/);
    assert.equal((await fs.journal.read(fs.journal.first - 1, 10, 'j')).length, 3);
    await assert.rejects(fs.journal.read(fs.journal.durable + 5, 10, 'j'), /ahead of j's journal/);
  } finally {
    await fs.close();
  }
});

test('journal: a version that won over a concurrent one is marked as a conflict', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'basefs-jr-'));
  const kp = generateKeyPair();
  const fs = await Filesystem.create(home, 'c', kp, []);
  t.after(async () => {
    await fs.close();
    rmSync(home, { recursive: true, force: true });
  });
  const a = await fs.content.writeBuffer(Buffer.from('a'));
  const b = await fs.content.writeBuffer(Buffer.from('b'));
  const deps = fs.dag.headIds();
  const time = Date.now();
  // Two versions of /c that do not know each other (same deps): concurrent.
  const e1 = createEntry(kp, { kind: Kind.WRITE, path: '/c', root: a.root, size: 1, mode: 0o644, mtime: 1, fsId: fs.fsId, deps, time });
  const e2 = createEntry(kp, { kind: Kind.WRITE, path: '/c', root: b.root, size: 1, mode: 0o644, mtime: 1, fsId: fs.fsId, deps, time });
  const start = fs.journal.durable;
  await fs.ingest([e1.bytes, e2.bytes]);
  const [c] = await fs.journal.read(start, 10, 'c');
  assert.equal(c.path, '/c');
  assert.equal(c.conflict, true);
  assert.equal(c.new, fs.state.lookup('/c')!.entryId);
  const plain = await fs.writeFile('/d', Buffer.from('d'));
  const [d] = await fs.journal.read(c.cursor, 10, 'c');
  assert.deepEqual([d.path, d.new, d.conflict], ['/d', plain.idHex, false]);
});
