import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fuseUnavailable, testFs, must, q, PY } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

interface T { a: number; m: number; c: number }
const PAST = Date.parse('2001-01-01T00:00:00Z');
const PAST2 = Date.parse('2002-02-02T00:00:00Z');
const PAST3 = Date.parse('2003-03-03T00:00:00Z');

// Issue 13 item 3: ctime advances on every change (from the log: the time of the entry that
// made the state), atime is node-local relatime, a directory's mtime moves when entries are
// added or removed, symlink times can be set. No clock races: every "advanced" check compares
// with the wall clock read before the call (entry times are never earlier than that).
test('times: ctime on every change, atime, directory mtimes, symlink times', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  const run = (cmd: string) => must(cmd, { cwd: m });
  const times = (p: string): T => {
    const s = JSON.parse(run(`${PY} -c "import os, json; s = os.lstat(${JSON.stringify(p).replace(/"/g, '\\"')}); print(json.dumps([s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns]))"`)) as number[];
    return { a: Math.floor(s[0] / 1e6), m: Math.floor(s[1] / 1e6), c: Math.floor(s[2] / 1e6) };
  };
  // the wall clock before a call, to the ms the mount shows (it stores ms)
  const before = () => Date.now() - 1;

  run('mkdir d && printf one > d/f');
  const f0 = times('d/f');

  // content change: mtime and ctime
  let t0 = before();
  run('printf two >> d/f');
  let x = times('d/f');
  assert.ok(x.m >= t0 && x.c >= t0, `write: ${JSON.stringify({ t0, x, f0 })}`);
  // chmod: ctime only
  const m1 = x.m;
  t0 = before();
  run('chmod 600 d/f');
  x = times('d/f');
  assert.ok(x.c >= t0, `chmod did not advance ctime: ${JSON.stringify({ t0, x })}`);
  assert.equal(x.m, m1);
  // touch -d into the past sets mtime (and atime), never ctime
  t0 = before();
  run(`touch -d @${PAST / 1000} d/f`);
  x = times('d/f');
  assert.equal(x.m, PAST);
  assert.equal(x.a, PAST);
  assert.ok(x.c >= t0, `touch -d set ctime into the past: ${JSON.stringify({ t0, x })}`);
  // rename: ctime of the file moved
  t0 = before();
  run('mv d/f d/g');
  x = times('d/g');
  assert.ok(x.c >= t0 && x.m === PAST, `rename: ${JSON.stringify({ t0, x })}`);

  // atime: set alone (mtime stays), then a read moves it (relatime: it was a day old)
  run(`touch -a -d @${PAST2 / 1000} d/g`);
  x = times('d/g');
  assert.deepEqual([x.a, x.m], [PAST2, PAST]);
  t0 = before();
  run('cat d/g > /dev/null');
  x = times('d/g');
  assert.ok(x.a >= t0 && x.m === PAST, `read did not move atime: ${JSON.stringify({ t0, x })}`);

  // a directory's mtime and ctime move when an entry is added or removed, not when a file in it
  // changes content; utimens of the directory sets it
  run(`touch -d @${PAST / 1000} d`);
  assert.equal(times('d').m, PAST);
  run('printf more >> d/g');
  assert.equal(times('d').m, PAST, 'a content change moved the directory mtime');
  for (const cmd of ['printf n > d/new', 'rm d/new', 'mkdir d/sub', 'rmdir d/sub', 'ln -s g d/l0', 'mv d/l0 d/l1', 'mv d/l1 l2']) {
    run(`touch -d @${PAST / 1000} d`);
    t0 = before();
    run(cmd);
    const dx = times('d');
    assert.ok(dx.m >= t0 && dx.c >= t0, `${cmd}: directory times ${JSON.stringify({ t0, dx })}`);
  }

  // symlink times (touch -h; cp -a, rsync -a and tar x use the same call)
  run(`ln -s g d/l && touch -h -d @${PAST3 / 1000} d/l`);
  assert.equal(times('d/l').m, PAST3);
  assert.equal(run('readlink d/l'), 'g\n');
  const src = join(f.base, 'src');
  must(`mkdir ${q(src)} && ln -s target ${q(src)}/link && touch -h -d @${PAST2 / 1000} ${q(src)}/link`);
  run(`cp -a ${q(src)} copied`);
  assert.equal(times('copied/link').m, PAST2);

  // the logged parts survive a remount: mtimes, symlink mtimes, ctime (an entry's time)
  const g = times('d/g');
  f.unmount();
  f.mount();
  const g2 = times('d/g');
  assert.deepEqual([g2.m, g2.c], [g.m, g.c]);
  assert.equal(times('d/l').m, PAST3);
  assert.equal(times('copied/link').m, PAST2);
});
