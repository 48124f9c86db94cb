import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { fuseUnavailable, testFs, sh, must, q, PY } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

// A second key on the same data dir: it may write only under its grant. Refusals come at
// open/create/mkdir/unlink/rename (EACCES), never later at close, and append nothing.
test('a key without authority gets EACCES at the call, and sees it in the modes', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  const bobKey = join(f.base, 'bob.key');
  const bob = JSON.parse(f.ok(`--json genkey ${q(bobKey)}`));
  f.ok(`mkdir -p ${f.name}:/shared`);
  f.ok(`mkdir ${f.name}:/other`);
  const src = join(f.base, 'top.txt');
  writeFileSync(src, 'top\n');
  f.ok(`write ${f.name}:/top.txt ${q(src)}`);
  f.ok(`grant ${bob.publicKey} ${f.name}:/shared`);
  f.mount(`--key ${q(bobKey)}`);
  const m = f.mnt;
  const run = (cmd: string) => must(cmd, { cwd: m });
  const denied = (cmd: string) => {
    const r = sh(cmd, { cwd: m });
    assert.notEqual(r.code, 0, `expected EACCES: ${cmd}`);
    assert.match(r.stderr, /Permission denied|PermissionError|Errno 13/, `${cmd}: ${r.stderr}`);
  };

  // authority shows in the modes: no write bits where bob may not write
  assert.equal(run('stat -c %a top.txt').trim(), '444');
  assert.equal(run('stat -c %a other').trim(), '555');
  assert.equal(run('stat -c %a shared').trim(), '755');
  assert.equal(run('stat -c %a .').trim(), '755'); // bob may write somewhere below /
  assert.equal(run('cat top.txt'), 'top\n'); // reading is always allowed
  assert.equal(sh('test -w top.txt', { cwd: m }).code, 1);
  assert.equal(sh('test -w shared', { cwd: m }).code, 0);

  const entries = () => JSON.parse(f.ok(`--json status ${f.name}`)).entries;
  const before = entries();
  // open for writing fails at open(2), before any byte is written
  must(`cd ${q(m)} && ${PY} -c "
import os, errno
for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND):
    try:
        os.open('top.txt', flags)
        raise SystemExit('open succeeded')
    except PermissionError as e:
        assert e.errno == errno.EACCES
try:
    os.open('new.txt', os.O_WRONLY | os.O_CREAT, 0o644)
    raise SystemExit('create succeeded')
except PermissionError:
    pass
"`);
  denied('echo x > top.txt');
  denied('echo x > new.txt');
  denied('mkdir newdir');
  denied('mkdir other/sub');
  denied('rm top.txt');
  denied('rmdir other');
  denied('mv top.txt shared/');
  denied('mv shared shared2');
  denied('chmod 600 top.txt');
  denied('touch -d 2020-01-01 top.txt');
  denied('ln -s top.txt lnk');
  denied('truncate -s 0 top.txt');
  denied('mkdir .snap/bobsnap'); // snapshots are root-level entries
  assert.equal(entries(), before, 'refused operations appended entries');
  assert.equal(run('cat top.txt'), 'top\n');

  // under the grant everything works
  run('echo mine > shared/f && mkdir shared/d && mv shared/f shared/d/g && chmod 600 shared/d/g');
  assert.equal(run('cat shared/d/g'), 'mine\n');
  assert.equal(run('stat -c %a shared/d/g').trim(), '600');
  const log = JSON.parse(f.ok(`--json log ${f.name}:/shared/d/g`));
  assert.ok(log.every((v: { author: string }) => v.author === bob.fingerprint), JSON.stringify(log));
});
