import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseUnavailable, testFs, sh, must, q, PY } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

type Row = { id: string; kind: string; path: string; target?: string; time: string; deps: string[] };

// The commit rule (docs/FUSE.md): close(2) queues, the committer batches, fsync(2) waits;
// temp files renamed before they were committed never reach the log. The node runs with a
// commit delay of an hour (BASEFS_FUSE_COMMIT_DELAY_MS), so nothing is committed by the timer:
// only fsync(2) (which commits the whole queue), the operations that wait for the queue
// (rmdir, rename of a committed path) and unmount. What lands in the log, and in which batch,
// is then decided by the test's own operations, not by how busy the machine is.
test('write-back: batches, fsync, temp files and queued metadata', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  const mount = () => {
    f.ok(`mount ${f.name} ${q(f.mnt)} --local`, { env: { BASEFS_FUSE_COMMIT_DELAY_MS: '3600000' }, timeoutMs: 90_000 });
  };
  mount();
  const m = f.mnt;
  const run = (cmd: string) => must(cmd, { cwd: m });
  const show = () => JSON.parse(f.ok(`--json show ${f.name}`)) as Row[];
  const touching = (rows: Row[], p: string) => rows.filter((e) => e.path === p || e.target === p);

  // closed but not fsync'ed: shown by the mount, not yet in the log
  run('echo queued > waiting.txt');
  assert.equal(run('cat waiting.txt'), 'queued\n');
  assert.equal(touching(show(), '/waiting.txt').length, 0, 'a closed file waits for its batch');

  // fsync(2) returns once the WRITE entry is durable: the node answers for it at once, and
  // the file queued before it went in the same batch
  run(`${PY} -c "
import os
fd = os.open('synced.txt', os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b'durable')
os.fsync(fd)
os.close(fd)"`);
  assert.equal(f.ok(`cat ${f.name}:/synced.txt`), 'durable');
  assert.equal(f.ok(`cat ${f.name}:/waiting.txt`), 'queued\n');

  // a temp file written, closed and renamed (by the same program, as editors, git and rsync
  // do) into a directory made just before: one WRITE at the final path, with the chmod that
  // followed folded in, and nothing under the temp name; sed -i's temp file likewise; a file
  // created and removed before its commit leaves no trace
  run(`mkdir -p made/here && ${PY} -c "
import os
with open('.tmp-x', 'w') as f: f.write('payload\\n')
os.rename('.tmp-x', 'made/here/final')
os.chmod('made/here/final', 0o640)"`);
  run('printf "a\\nb\\n" > conf && sed -i s/b/c/ conf');
  run(`${PY} -c "
import os
with open('short-lived', 'w') as f: f.write('gone')
os.unlink('short-lived')"`);
  assert.equal(touching(show(), '/made/here/final').length, 0, 'still queued');
  run('sync made/here/final'); // fsync: commits the whole queue
  const entries = show();
  const names = entries.flatMap((e) => [e.path, e.target ?? '']);
  const leaked = names.filter((p) => p === '/.tmp-x' || p === '/short-lived' || p.startsWith('/sed'));
  assert.deepEqual(leaked, [], 'temp names never reach the log');
  assert.deepEqual(touching(entries, '/made/here/final').map((e) => e.kind), ['WRITE'], 'one WRITE, the chmod folded in');
  assert.deepEqual(touching(entries, '/conf').map((e) => e.kind), ['WRITE'], 'sed -i: one WRITE at the target');
  const visible = run('ls -A').split('\n');
  assert.ok(!visible.includes('.tmp-x') && !visible.includes('short-lived') && !visible.some((n) => n.startsWith('sed')), `temp files left in the view: ${visible.join(' ')}`);
  assert.equal(f.ok(`cat ${f.name}:/made/here/final`), 'payload\n');
  assert.equal(f.ok(`cat ${f.name}:/conf`), 'a\nc\n');
  assert.equal(run('stat -c %a made/here/final').trim(), '640');

  // many small files closed in a row share one batch: one append (Filesystem.commitMany), so
  // one time for all and each entry's only dep is the entry before it
  run('mkdir many && cd many && for i in $(seq 1 300); do echo $i > f$i; done');
  run('sync many/f300');
  const batch = show().filter((e) => e.path === '/many' || e.path.startsWith('/many/'));
  assert.equal(batch.length, 301);
  assert.deepEqual(batch.map((e) => e.kind), ['MKDIR', ...Array(300).fill('WRITE')]);
  assert.equal(new Set(batch.map((e) => e.time)).size, 1, 'one batch: one time for all its entries');
  for (let i = 1; i < batch.length; i++) assert.deepEqual(batch[i].deps, [batch[i - 1].id], 'chained in queue order');
  // overwriting them (unlink + create, as tar does) too
  run('cd many && for i in $(seq 1 300); do rm f$i && echo again$i > f$i; done');
  assert.equal(run('cat many/f1 many/f300'), 'again1\nagain300\n');
  assert.equal(run('ls many | wc -l').trim(), '300');

  // queued changes are visible in the mount immediately and land in the log in order
  run('mkdir q && touch -d "2001-02-03 04:05:06 UTC" q && chmod 700 q && echo in > q/x');
  assert.equal(run('stat -c %a q').trim(), '700');
  assert.equal(run('cat q/x'), 'in\n');
  assert.equal(touching(show(), '/q').length, 0, 'still queued');
  f.unmount(); // commits everything queued
  const st = JSON.parse(f.ok(`--json ls ${f.name}:/q`));
  assert.deepEqual(st.map((x: { name: string }) => x.name), ['x']);
  mount();
  assert.equal(run('TZ=UTC stat -c "%a %y" q').trim(), '700 2001-02-03 04:05:06.000000000 +0000');
  assert.equal(run('cat many/f150'), 'again150\n');
  void sh;
});
