import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuseUnavailable, testFs, sh, must, q, PY, BIN, NODE } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);
const MAKE_CONFLICT = fileURLToPath(new URL('./fixtures/make-conflict.ts', import.meta.url));

test('snapshots: mkdir .snap/LABEL and basefs snapshot, served read-only', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  const run = (cmd: string) => must(cmd, { cwd: m });
  const fails = (cmd: string, re: RegExp) => {
    const r = sh(cmd, { cwd: m });
    assert.notEqual(r.code, 0, `expected failure: ${cmd}`);
    assert.match(r.stderr, re, cmd);
  };

  run('echo Hello > greeting && mkdir -p d && echo deep > d/x');
  run('mkdir .snap/remember-me');
  run('rm greeting && echo changed > d/x && echo new > b');
  assert.equal(run('cat .snap/remember-me/greeting'), 'Hello\n');
  assert.equal(run('cat .snap/remember-me/d/x'), 'deep\n');
  fails('cat .snap/remember-me/b', /No such file/);
  assert.equal(run('ls .snap/remember-me').trim().split('\n').join(' '), 'd greeting');
  assert.equal(run('stat -c %a .snap/remember-me/greeting').trim(), '444');

  // the CLI takes one through the running node; it shows up in the mount
  f.ok(`snapshot ${f.name} from-cli`);
  assert.deepEqual(run('ls .snap').trim().split('\n'), ['from-cli', 'remember-me']);
  assert.equal(run('cat .snap/from-cli/b'), 'new\n');
  assert.equal(run('cat .snap/from-cli/d/x'), 'changed\n');

  // read-only, permanent, unique
  fails('echo x > .snap/remember-me/greeting', /Read-only/);
  fails('echo x > .snap/remember-me/new', /Read-only/);
  fails('rm .snap/remember-me/greeting', /Read-only/);
  fails('mkdir .snap/remember-me/sub', /Read-only/);
  fails('rmdir .snap/remember-me', /not permitted/);
  fails('mkdir .snap/remember-me', /exists/);
  fails('mkdir .snap', /exists/);
  // hidden from listings of the root (so cp -r / rsync of the mount do not copy every snapshot)
  assert.doesNotMatch(run('ls -A'), /\.snap/);
  // a copy out of a snapshot is an ordinary file
  run('cp .snap/remember-me/greeting restored && cat restored');
  assert.equal(run('cat restored'), 'Hello\n');
  const snaps = JSON.parse(f.ok(`--json status ${f.name}`));
  assert.ok(snaps.entries > 0);
});

test('conflict losers are readable under .conflicts; remote changes show without a remount; readers keep their version', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.ok(`mkdir ${f.name}:/dir`);
  const key = join(f.home, 'id_ed25519');
  const c1 = JSON.parse(must(`${q(NODE)} ${q(MAKE_CONFLICT)} ${q(f.home)} ${f.name} ${q(key)} /c.txt 'loser text' 'winner text'`));
  const c2 = JSON.parse(must(`${q(NODE)} ${q(MAKE_CONFLICT)} ${q(f.home)} ${f.name} ${q(key)} /dir/n.txt 'old n' 'new n'`));
  f.mount();
  const m = f.mnt;
  const run = (cmd: string) => must(cmd, { cwd: m });

  assert.equal(run('cat c.txt'), 'winner text');
  assert.equal(run('ls .conflicts').trim().split('\n').join(' '), 'c.txt dir');
  const id1 = c1.loser.slice(0, 12);
  assert.equal(run('ls .conflicts/c.txt').trim(), id1);
  assert.equal(run(`cat .conflicts/c.txt/${id1}`), 'loser text');
  assert.equal(run(`cat .conflicts/dir/n.txt/${c2.loser.slice(0, 12)}`), 'old n');
  assert.equal(run('cat dir/n.txt'), 'new n');
  assert.doesNotMatch(run('ls -A'), /\.conflicts/);
  assert.notEqual(sh(`echo x > .conflicts/c.txt/${id1}`, { cwd: m }).code, 0);
  // restoring a loser is a copy (or basefs revert)
  run(`cp .conflicts/c.txt/${id1} c.txt && cat c.txt`);
  assert.equal(run('cat c.txt'), 'loser text');
  assert.match(f.ok(`log ${f.name}:/c.txt`), new RegExp(id1));

  // a change that does not come through this mount (the CLI via the node) appears within the
  // attribute timeout, without a remount
  run('echo before > remote.txt && cat remote.txt');
  f.ok(`write ${f.name}:/remote.txt`, { input: 'after, and longer\n' });
  const seen = must(`for i in $(seq 1 50); do c=$(cat remote.txt); [ "$c" = "after, and longer" ] && echo ok && exit 0; sleep 0.1; done; echo "still: $c"`, { cwd: m });
  assert.equal(seen.trim(), 'ok');
  f.ok(`mkdir ${f.name}:/remote-dir`);
  assert.equal(must('for i in $(seq 1 50); do [ -d remote-dir ] && echo ok && exit 0; sleep 0.1; done; echo missing', { cwd: m }).trim(), 'ok');

  // an open reader keeps reading the version it opened while a new one is committed
  run('head -c 3000000 /dev/urandom > pinned.bin');
  const out = must(`${PY} -c "
import os, hashlib, subprocess, sys
want = hashlib.sha256(open('pinned.bin', 'rb').read()).hexdigest()
fd = os.open('pinned.bin', os.O_RDONLY)
first = os.read(fd, 65536)
new = os.urandom(3000000)
subprocess.run([sys.argv[1], '--data-dir', sys.argv[2], 'write', sys.argv[3] + ':/pinned.bin'], input=new, check=True, stdout=subprocess.DEVNULL)
rest = b''
while True:
    b = os.read(fd, 1 << 20)
    if not b: break
    rest += b
os.close(fd)
print('same' if hashlib.sha256(first + rest).hexdigest() == want else 'torn', len(first + rest))
now = open('pinned.bin', 'rb').read()
print('new' if now == new else 'old')
" ${q(BIN)} ${q(f.home)} ${f.name}`, { cwd: m });
  assert.equal(out, 'same 3000000\nnew\n');
});

// Regression: with libfuse's auto_cache, an open within a second of the last attribute fetch
// kept the page cache without looking, so `cat` right after a change made elsewhere (the CLI
// here, a peer in the field) returned the old bytes of a same-size file. Every open must read
// the version current at that open.
test('a new open reads the current version right after a change made elsewhere', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const out = must(`${PY} -c "
import subprocess, sys
def write(data):
    subprocess.run([sys.argv[1], '--data-dir', sys.argv[2], 'write', sys.argv[3] + ':/same.txt'], input=data, check=True, stdout=subprocess.DEVNULL)
res = []
for i in range(4):
    old = ('old-version-%d' % i).encode()
    new = ('new-version-%d' % i).encode()
    write(old)
    # warm the page cache and the attribute cache with the old version
    while open('same.txt', 'rb').read() != old: pass
    write(new)
    got = open('same.txt', 'rb').read()
    res.append('ok' if got == new else 'stale:' + got.decode())
print(' '.join(res))
" ${q(BIN)} ${q(f.home)} ${f.name}`, { cwd: f.mnt });
  assert.equal(out.trim(), 'ok ok ok ok');
});

// Known hole: the kernel keeps one page cache per path, shared by every open handle, while a
// basefs handle pins the version it opened. Two handles on two versions read at once fill that
// cache with each other's pages. Needs per-version inodes (or direct I/O for superseded
// handles), which fuse-native's high-level binding cannot express; see docs/FUSE.md.
test('two readers on two versions of one file each read their own version', { skip: skip ?? false, todo: 'page cache is shared across versions (docs/FUSE.md, Reads)', timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const out = must(`${PY} -c "
import os, subprocess, sys
def write(data):
    subprocess.run([sys.argv[1], '--data-dir', sys.argv[2], 'write', sys.argv[3] + ':/p.bin'], input=data, check=True, stdout=subprocess.DEVNULL)
def rest(fd):
    out = b''
    while True:
        b = os.read(fd, 1 << 20)
        if not b: return out
        out += b
v1 = os.urandom(3000000); write(v1)
fa = os.open('p.bin', os.O_RDONLY); first = os.read(fa, 65536)
v2 = os.urandom(3000000); write(v2)
fb = os.open('p.bin', os.O_RDONLY)
a = first + rest(fa); b = rest(fb)
print('old reader', 'v1' if a == v1 else 'torn', 'new reader', 'v2' if b == v2 else 'torn')
" ${q(BIN)} ${q(f.home)} ${f.name}`, { cwd: f.mnt });
  assert.equal(out.trim(), 'old reader v1 new reader v2');
});
