// Issue 18: a watcher that stops reading costs the node a bounded buffer and never slows its
// appends; it is told it fell behind, with the cursor to resume from, and resuming there gives
// every change once. In-process: a Filesystem, the real control server on a socket in a temp
// dir, and a client that does not read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Filesystem } from '../../src/node/filesystem.ts';
import { FsApi } from '../../src/node/api.ts';
import { startControlServer } from '../../src/node/control.ts';
import { WatchServer } from '../../src/node/watch.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Kind } from '../../src/log/entry.ts';
import { streamControl } from '../../src/cli/watch-commands.ts';

test('a watcher that does not read is cut off with its cursor; resuming loses and repeats nothing', { timeout: 120_000 }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'basefs-wb-'));
  const fs = await Filesystem.create(home, 'wb', generateKeyPair(), []);
  const ws = new WatchServer(fs);
  ws.maxLag = 100;
  const sock = join(home, 'control.sock');
  const server = await startControlServer(sock, new FsApi(fs), { watch: ws.handler });
  t.after(async () => {
    ws.stop();
    await new Promise<void>((r) => server.close(() => r()));
    await fs.close();
    rmSync(home, { recursive: true, force: true });
  });
  const start = fs.journal.durable;

  const c = createConnection(sock);
  await new Promise<void>((r) => c.once('connect', () => r()));
  c.pause(); // never reads until told
  c.write(JSON.stringify({ id: 7, method: 'watch', params: [{ path: '/', since: start, follow: true }] }) + '\n');
  // 4,000 changes (about 1.5 MB of lines): far more than the socket and the session's buffer hold.
  const ref = await fs.content.writeBuffer(Buffer.from('x'));
  const drafts = Array.from({ length: 4000 }, (_, i) => ({ kind: Kind.WRITE, path: `/file-with-a-long-name-${String(i).padStart(6, '0')}`, root: ref.root, size: ref.size, mode: 0o644, mtime: 1 }));
  await fs.commitMany(drafts); // resolves although the watcher reads nothing
  const end = Date.now() + 30_000;
  while (ws.cutOff === 0) {
    assert.ok(Date.now() < end, 'the watcher was told it fell behind');
    await new Promise((r) => setTimeout(r, 20));
  }
  // Now read what it was sent: changes, then the error with the cursor to resume from.
  let text = '';
  c.setEncoding('utf8');
  c.on('data', (d: string) => (text += d));
  c.resume();
  await new Promise<void>((r) => c.once('close', () => r()));
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  const got: number[] = lines.filter((l) => l.change).map((l) => l.change.cursor);
  const err = lines[lines.length - 1].error;
  assert.equal(err.code, 'ENOBUFS');
  const m = /fell behind: .*resume with basefs watch --since (\d+)/.exec(err.message);
  assert.ok(m, err.message);
  assert.ok(got.length < 4000, `cut off before the end (${got.length} sent)`);
  assert.equal(Number(m[1]), got.length ? got[got.length - 1] : start, 'the cursor is the last change it was sent');

  // Resume there: the rest, each once.
  await streamControl(sock, 'watch', [{ path: '/', since: Number(m[1]), follow: false }], (o) => {
    if (o.change) got.push((o.change as { cursor: number }).cursor);
  });
  assert.deepEqual(got, Array.from({ length: 4000 }, (_, i) => start + 1 + i), 'every change once, in order');
});
