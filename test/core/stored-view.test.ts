// Issue 15: the stored view (storage/viewstore.ts) always equals the view a replay of the
// stored log gives, whatever order and batches entries arrive in, across reopens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Dag } from '../../src/log/dag.ts';
import { FsState, type Inode } from '../../src/view/state.ts';
import { toHex } from '../../src/crypto/hash.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { compareView } from '../../src/node/fsck.ts';
import { allPaths } from '../../src/node/viewsync.ts';
import { opArb, buildHistory } from './history-arb.ts';

const plain = (n: Inode | null) => n && { ...n, root: n.root && toHex(n.root), author: n.author && toHex(n.author) };

// What a lazy open (the stored view) answers, for every path the reference has, and the
// reference's own answers: they must be equal.
async function storedMatches(home: string, ref: FsState): Promise<void> {
  const lazy = await Filesystem.open(home, 'p', null, { lazy: true, notice: (m) => assert.fail(`a lazy open had to repair: ${m}`) });
  try {
    assert.equal(lazy.loaded, false, 'the stored view was current: no replay');
    for (const p of allPaths(ref)) {
      const want = ref.lookup(p)!;
      const got = await lazy.stat(p);
      assert.deepEqual(plain(got), plain(want), `stored inode of ${p}`);
      if (want.type === 'dir') {
        assert.deepEqual(await lazy.list(p), ref.readdir(p), `stored listing of ${p}`);
        const kids = ref.readdir(p).map((k) => plain(ref.lookup(p === '/' ? '/' + k : p + '/' + k)));
        assert.deepEqual((await lazy.listInodes(p)).map(plain), kids, `stored listing with inodes of ${p}`);
      }
    }
    for (const gone of ['/nope', '/a/nope']) if (!ref.lookup(gone)) assert.equal(await lazy.stat(gone), null);
  } finally {
    await lazy.close();
  }
}

test('stored view = replay after every batch, in random orders and batch sizes, with reopens', { timeout: 600_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 24 }), fc.nat(), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), async (ops, seed, batches, reopen) => {
      const entries = buildHistory(ops);
      const order = [entries[0], ...entries.slice(1)];
      let x = seed | 1;
      for (let i = order.length - 1; i > 1; i--) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        const j = 1 + (x % i);
        [order[i], order[j]] = [order[j], order[i]];
      }
      const home = mkdtempSync(join(tmpdir(), 'basefs-sv-'));
      try {
        let fs = await Filesystem.open(home, 'p', null, { allowEmpty: true, notice: (m) => assert.fail(`open had to repair: ${m}`) });
        let at = 0;
        let bi = 0;
        try {
          while (at < order.length) {
            const n = batches[bi % batches.length];
            await fs.ingest(order.slice(at, at + n).map((e) => e.bytes));
            at += n;
            if (reopen[bi % reopen.length]) {
              await fs.close();
              fs = await Filesystem.open(home, 'p', null, { notice: (m) => assert.fail(`reopen had to repair: ${m}`) });
            }
            bi++;
            assert.deepEqual(await compareView(fs), [], 'fsck finds no difference');
          }
          // The reference model: a fresh state over the same entries, computed in one pass.
          const dag = new Dag();
          for (const n of fs.dag.ordered()) dag.add(n.entry);
          const ref = new FsState(dag);
          assert.equal(ref.viewDigest(), fs.state.viewDigest());
          await fs.close();
          await storedMatches(home, ref);
        } finally {
          await fs.close().catch(() => {});
        }
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }),
    { numRuns: 25 },
  );
});
