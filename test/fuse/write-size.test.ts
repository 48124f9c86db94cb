// Issue 12.7 through the mount: a WRITE whose declared size differs from its chunk list reads
// as EIO, never as bytes of another length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fuseUnavailable, testFs, sh, q } from './helpers.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { loadKeyFile } from '../../src/crypto/keyfile.ts';
import { createEntry } from '../../src/log/sign.ts';
import { Kind } from '../../src/log/entry.ts';

const skip = fuseUnavailable();

test('reading a file whose entry lies about its size fails with EIO on the mount', { skip: skip ?? false, timeout: 180_000 }, async (t) => {
  const f = testFs(t);
  f.ok(`write ${f.name}:/good`, { input: 'hello' });
  // A peer's entries, ingested the way gossip and sync deliver them.
  const fs = await Filesystem.open(f.home, f.name, null);
  try {
    const good = fs.lookup('/good')!;
    const kp = loadKeyFile(join(f.home, 'id_ed25519'));
    for (const [path, size] of [['/short', 2], ['/long', 4096]] as const) {
      const e = createEntry(kp, { kind: Kind.WRITE, path, root: good.root!, size, mode: 0o644, mtime: 1, fsId: fs.fsId, deps: fs.dag.headIds() });
      assert.equal((await fs.ingest([e.bytes])).accepted.length, 1);
    }
  } finally {
    await fs.close();
  }
  f.mount();
  assert.equal(sh(`cat ${q(join(f.mnt, 'good'))}`).stdout, 'hello');
  for (const name of ['short', 'long']) {
    const r = sh(`cat ${q(join(f.mnt, name))}`);
    assert.notEqual(r.code, 0, `${name}: read succeeded with ${JSON.stringify(r.stdout)}`);
    assert.match(r.stderr, /Input\/output error/);
    assert.equal(r.stdout, '');
  }
});
