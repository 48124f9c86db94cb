import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseUnavailable, testFs, sh, must, q, PY } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

test('files, directories, links, modes, times and errno codes on a real mount', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  const t0 = Date.now();
  const run = (cmd: string) => {
    const s0 = Date.now();
    const out = must(cmd, { cwd: m });
    if (process.env.FUSE_TEST_TIMING) console.log(`# ${Date.now() - s0} ms (at ${Date.now() - t0}) ${cmd.slice(0, 60)}`);
    return out;
  };
  const err = (cmd: string) => {
    const r = sh(cmd, { cwd: m });
    assert.notEqual(r.code, 0, `expected failure: ${cmd}`);
    return r.stderr;
  };

  // /.cluster is a normal file; the virtual folders are not listed
  assert.deepEqual(run('ls -A').trim().split('\n'), ['.cluster']);

  // one WRITE entry per close(2) of a changed file, in the log when close(2) returns. The
  // shell's `>` closes twice (open, dup2, close; then echo, close): a new file is committed
  // empty, then with its content; `>>` changes nothing before its first close; `>` over an
  // existing file does not publish the truncated empty version (docs/FUSE.md)
  run('echo hello > a.txt');
  assert.equal(run('cat a.txt'), 'hello\n');
  assert.equal(f.ok(`cat ${f.name}:/a.txt`), 'hello\n');
  const sizes = () => (JSON.parse(f.ok(`--json log ${f.name}:/a.txt`)) as { kind: string; size: number }[]).map((e) => `${e.kind} ${e.size}`);
  assert.deepEqual(sizes(), ['WRITE 6', 'WRITE 0']);
  run('echo more >> a.txt');
  assert.equal(run('cat a.txt'), 'hello\nmore\n');
  assert.equal(sizes().length, 3);
  run('echo over > a.txt');
  assert.deepEqual(sizes().slice(0, 2), ['WRITE 5', 'WRITE 11'], 'no empty version between the two');
  run('echo hello > a.txt && echo more >> a.txt');

  // partial overwrite in the middle (pwrite), truncate, extend
  run(`${PY} -c "
import os
fd = os.open('a.txt', os.O_RDWR)
os.pwrite(fd, b'J', 0)
os.close(fd)"`);
  assert.equal(run('cat a.txt'), 'Jello\nmore\n');
  run('truncate -s 3 a.txt');
  assert.equal(run('cat a.txt'), 'Jel');
  run('truncate -s 5 a.txt');
  assert.equal(run('od -An -c a.txt').replace(/\s+/g, ' ').trim(), 'J e l \\0 \\0');
  run(': > a.txt');
  assert.equal(run('stat -c %s a.txt').trim(), '0');

  // a big file goes through a temp file, not memory; read back byte for byte
  run('head -c 20000000 /dev/urandom > /tmp/basefs-fuse-big.$$ && cp /tmp/basefs-fuse-big.$$ big.bin && cmp /tmp/basefs-fuse-big.$$ big.bin && rm /tmp/basefs-fuse-big.$$');
  assert.equal(run('stat -c %s big.bin').trim(), '20000000');
  run('dd if=/dev/zero of=big.bin bs=4096 count=1 seek=100 conv=notrunc status=none');
  assert.equal(run('stat -c %s big.bin').trim(), '20000000');
  assert.equal(run('dd if=big.bin bs=4096 skip=100 count=1 status=none | tr -d "\\0" | wc -c').trim(), '0');

  // directories
  run('mkdir -p d1/d2 && echo x > d1/d2/f');
  assert.equal(run('ls d1/d2'), 'f\n');
  assert.match(err('rmdir d1'), /not empty/i);
  assert.match(err('mkdir d1'), /exists/i);
  assert.match(err('cat nope'), /No such file/);
  assert.match(err('cat d1'), /Is a directory/);
  assert.match(err('ls a.txt/x'), /Not a directory/);
  assert.match(err('rm d1'), /Is a directory/);
  run('rm d1/d2/f && rmdir d1/d2');
  assert.equal(run('ls d1'), '');

  // rename, also over an existing file, and of a directory with content
  run('echo one > r1 && echo two > r2 && mv r1 r2');
  assert.equal(run('cat r2'), 'one\n');
  assert.match(err('cat r1'), /No such file/);
  run('mkdir -p mv1/sub && echo deep > mv1/sub/x && mv mv1 mv2');
  assert.equal(run('cat mv2/sub/x'), 'deep\n');
  assert.match(err('ls mv1'), /No such file/);

  // symlinks
  run('ln -s r2 link && ln -s /nowhere dangling');
  assert.equal(run('readlink link'), 'r2\n');
  assert.equal(run('cat link'), 'one\n');
  assert.equal(run('stat -c %F dangling').trim(), 'symbolic link');

  // modes and times
  run('chmod 640 r2');
  assert.equal(run('stat -c %a r2').trim(), '640');
  run('chmod 755 mv2');
  assert.equal(run('stat -c %a mv2').trim(), '755');
  run('touch -d "2020-02-03 04:05:06 UTC" r2');
  assert.equal(run('TZ=UTC stat -c %y r2').trim(), '2020-02-03 04:05:06.000000000 +0000');
  run('touch -m -d "2019-01-01 00:00:00 UTC" r2');
  assert.equal(run('TZ=UTC stat -c %y r2').trim(), '2019-01-01 00:00:00.000000000 +0000');
  run('touch newfile');
  assert.equal(run('stat -c %s newfile').trim(), '0');
  run('chown 1234:1234 r2'); // accepted, not recorded
  assert.equal(f.ok(`cat ${f.name}:/r2`), 'one\n');

  // statfs
  assert.match(run('df -P .'), /basefs:tfs/);
  assert.match(run('stat -f -c %l .').trim(), /^255$/);

  // hard links are not supported
  assert.match(err('ln r2 hard'), /not permitted/i);

  // names reserved for the virtual folders cannot be created at the root
  assert.notEqual(sh('touch .snap', { cwd: m }).code, 0);
  assert.match(err('mkdir .conflicts'), /exists/i);
  assert.match(err('mv r2 .snap'), /Read-only/i); // into the virtual folder
  assert.match(err(`mkdir emptyd && ${PY} -c "import os; os.rename(\'emptyd\', \'.conflicts\')"`), /PermissionError|not permitted/i); // onto its name
  run('rmdir emptyd');
  assert.match(err('ln -sT r2 .conflicts'), /exists/i);
  assert.deepEqual(run('ls -A').trim().split('\n').filter((n) => n.startsWith('.')), ['.cluster']);
  run('mkdir -p sub && touch sub/.snap && ls -A sub'); // only the root is reserved

  // a file unlinked while open keeps working until closed, and never reaches the log
  run(`${PY} -c "
import os
fd = os.open('tmpf', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'abc')
os.unlink('tmpf')
os.write(fd, b'def')
assert os.pread(fd, 6, 0) == b'abcdef', os.pread(fd, 6, 0)
assert os.fstat(fd).st_size == 6
os.close(fd)"`);
  assert.match(err('cat tmpf'), /No such file/);
  assert.doesNotMatch(run('ls -A'), /fuse_hidden/);

  // everything above is in the log and survives a remount
  const before = run('find . -path ./big.bin -prune -o -print | sort && cat r2 mv2/sub/x');
  f.unmount();
  f.mount();
  assert.equal(run('find . -path ./big.bin -prune -o -print | sort && cat r2 mv2/sub/x'), before);
  assert.equal(run('stat -c %s big.bin').trim(), '20000000');
  assert.match(f.ok(`ls ${f.name}:/`), /big\.bin/);

  // list shows the mount point while the node runs and none once it stopped; unmount says it
  // unmounted (a node started with run is "stopped": test/cli/output.test.ts)
  assert.equal(JSON.parse(f.ok('--json list'))[0].mountpoint, m);
  assert.ok(f.ok(`unmount ${f.name}`).startsWith(`unmounted ${f.name} from ${m} `));
  const [row] = JSON.parse(f.ok('--json list'));
  assert.equal(row.running, false);
  assert.equal(row.mountpoint, null, 'no stale mount point for a stopped node');
  void q;
});
