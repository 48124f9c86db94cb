import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseUnavailable, testFs, must, PY } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

// The commit rule (docs/FUSE.md): close(2), mkdir, rm, chmod... return once durable; fsync(2) too;
// a temp file renamed while still open never reaches the log under its temp name.
test('write-back: batches, fsync, temp files and queued metadata', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  const run = (cmd: string) => must(cmd, { cwd: m });
  const show = () => JSON.parse(f.ok(`--json show ${f.name}`)) as { kind: string; path: string; target?: string }[];

  // fsync(2) returns once the WRITE entry is durable: the node answers for it at once
  run(`${PY} -c "
import os
fd = os.open('synced.txt', os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b'durable')
os.fsync(fd)
os.close(fd)"`);
  assert.equal(f.ok(`cat ${f.name}:/synced.txt`), 'durable');

  // a temp file written, closed and renamed (editors, git and rsync do this) into a directory
  // made just before: the close commits it under its temp name, the rename follows
  run(`mkdir -p made/here && ${PY} -c "
import os
with open('.tmp-x', 'w') as f: f.write('payload\\n')
os.rename('.tmp-x', 'made/here/final')
os.chmod('made/here/final', 0o640)"`);
  // renamed while still open: one WRITE at the final path, nothing under the temp name
  run(`${PY} -c "
import os
f = open('.tmp-open', 'w')
f.write('open\\n')
f.flush()
os.rename('.tmp-open', 'made/here/opened')
f.close()"`);
  run('printf "a\\nb\\n" > conf && sed -i s/b/c/ conf');
  // a file created and removed leaves no file in the view
  run(`${PY} -c "
import os
with open('short-lived', 'w') as f: f.write('gone')
os.unlink('short-lived')"`);
  const entries = show();
  const visible = run('ls -A').split('\n');
  assert.ok(!visible.includes('.tmp-x') && !visible.includes('short-lived') && !visible.some((n) => n.startsWith('sed')), `temp files left in the view: ${visible.join(' ')}`);
  assert.equal(f.ok(`cat ${f.name}:/made/here/final`), 'payload\n');
  assert.equal(f.ok(`cat ${f.name}:/made/here/opened`), 'open\n');
  assert.equal(f.ok(`cat ${f.name}:/conf`), 'a\nc\n');
  const kinds = (p: string) => entries.filter((e) => e.path === p || e.target === p).map((e) => `${e.kind} ${e.path}${e.target ? ' ' + e.target : ''}`);
  assert.deepEqual(kinds('/made/here/final'), ['RENAME /.tmp-x /made/here/final', 'SETATTR /made/here/final']);
  assert.deepEqual(kinds('/made/here/opened'), ['WRITE /made/here/opened']);
  assert.ok(!entries.some((e) => e.path === '/.tmp-open'), 'the open temp name reached the log');
  assert.equal(run('stat -c %a made/here/final').trim(), '640');

  // many small files closed in a row share batches; overwriting them (unlink + create, as tar
  // does) too
  run('mkdir many && cd many && for i in $(seq 1 300); do echo $i > f$i; done');
  run('cd many && for i in $(seq 1 300); do rm f$i && echo again$i > f$i; done');
  assert.equal(run('cat many/f1 many/f300'), 'again1\nagain300\n');
  assert.equal(run('ls many | wc -l').trim(), '300');

  // queued changes are visible in the mount immediately and land in the log in order
  run('mkdir q && touch -d "2001-02-03 04:05:06 UTC" q && chmod 700 q && echo in > q/x && rmdir q 2>/dev/null; true');
  assert.equal(run('stat -c %a q').trim(), '700');
  assert.equal(run('cat q/x'), 'in\n');
  f.unmount(); // commits everything queued
  const st = JSON.parse(f.ok(`--json ls ${f.name}:/q`));
  assert.deepEqual(st.map((x: { name: string }) => x.name), ['x']);
  f.mount();
  assert.equal(run('TZ=UTC stat -c "%a %y" q').trim(), '700 2001-02-03 04:05:06.000000000 +0000');
  assert.equal(run('cat many/f150'), 'again150\n');
});
