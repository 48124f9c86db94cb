// Issue 12.7: a WRITE entry whose declared size differs from its chunk list is corrupt
// content. A peer's entry (delivered through Filesystem.ingest, the path gossip and sync use)
// reuses real content but declares 2^53 - 1 bytes; the CLI must not pass it off as the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { loadKeyFile } from '../../src/crypto/keyfile.ts';
import { createEntry } from '../../src/log/sign.ts';
import { Kind } from '../../src/log/entry.ts';

test('cat of a WRITE whose size does not match its content fails naming the file', { timeout: 120_000 }, async (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'ws']);
  ok(home, ['write', 'ws:/good'], 'hello');
  const fs = await Filesystem.open(home, 'ws', null);
  try {
    const good = fs.lookup('/good')!;
    const kp = loadKeyFile(join(home, 'id_ed25519'));
    for (const [path, size] of [['/huge', Number.MAX_SAFE_INTEGER], ['/short', 2]] as const) {
      const e = createEntry(kp, { kind: Kind.WRITE, path, root: good.root!, size, mode: 0o644, mtime: 1, fsId: fs.fsId, deps: fs.dag.headIds() });
      const r = await fs.ingest([e.bytes]);
      assert.equal(r.accepted.length, 1, JSON.stringify(r.rejected));
    }
  } finally {
    await fs.close();
  }
  assert.equal(ok(home, ['cat', 'ws:/good']), 'hello');
  for (const [path, size] of [['/huge', Number.MAX_SAFE_INTEGER], ['/short', 2]] as const) {
    const r = basefs(home, ['cat', `ws:${path}`]);
    assert.notEqual(r.code, 0, `cat ws:${path} must fail`);
    assert.equal(r.stdout, '', 'no bytes are passed off as the file');
    assert.match(r.stderr, new RegExp(`corrupt content: ws:${path} declares ${size} bytes but its content .* holds 5`));
  }
});
