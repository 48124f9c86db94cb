import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseUnavailable, testFs, sh, must, q, BIN } from './helpers.ts';

// Issue 13 item 5: owner and group are recorded in the log by name and mapped to this node's
// ids (docs/FUSE.md, "Owners").
const root = process.getuid?.() === 0;
const skip = fuseUnavailable() ?? (root ? null : 'needs root (chown to other users, setpriv)');
if (skip) console.log(`# skipping: ${skip}`);

const stat = (dir: string, f: string) => must(`stat -c '%U:%G %u:%g %a' ${q(f)}`, { cwd: dir }).trim();
// `basefs ls -l` columns: mode owner group size mtime name
const lsOwner = (ls: string, name: string) => {
  const row = ls.split('\n').find((l) => l.trim().endsWith(' ' + name));
  assert.ok(row, `no row for ${name} in\n${ls}`);
  return row.trim().split(/\s+/).slice(1, 3).join(':');
};

test('chown/chgrp are recorded by name: shown by stat and basefs ls -l, kept across remount, a content change keeps them', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  must('echo secret > key && mkdir conf && echo x > conf/a', { cwd: m });
  // never chowned: the mounting user and its group (here root), nothing recorded
  assert.equal(stat(m, 'key'), 'root:root 0:0 644');
  assert.equal(lsOwner(f.ok(`ls -l ${f.name}:/`), 'key'), '-:-');

  must('chown nobody:nogroup key && chmod 600 key && chgrp staff conf && chown 4242:4343 conf/a', { cwd: m });
  assert.equal(stat(m, 'key'), 'nobody:nogroup 65534:65534 600');
  assert.equal(stat(m, 'conf'), 'root:staff 0:50 755');
  assert.equal(stat(m, 'conf/a'), 'UNKNOWN:UNKNOWN 4242:4343 644'); // ids without a name: recorded as numbers
  assert.equal(lsOwner(f.ok(`ls -l ${f.name}:/`), 'key'), 'nobody:nogroup');
  assert.equal(lsOwner(f.ok(`ls -l ${f.name}:/`), 'conf/'), '-:staff');
  assert.equal(lsOwner(f.ok(`ls -l ${f.name}:/conf`), 'a'), '4242:4343');

  // a new version of the file (written through the mount) keeps its owner
  must('echo changed > key', { cwd: m });
  assert.equal(stat(m, 'key'), 'nobody:nogroup 65534:65534 600');
  // ... and so does one written with the CLI (through the running node)
  f.ok(`write ${f.name}:/conf/a`, { input: 'from the cli\n' });
  assert.equal(lsOwner(f.ok(`ls -l ${f.name}:/conf`), 'a'), '4242:4343');
  // chown -1 -1 and a chown to what is recorded append nothing
  const before = f.ok(`--json status ${f.name}`);
  must('chown nobody key && chgrp nogroup key', { cwd: m });
  assert.equal(JSON.parse(f.ok(`--json status ${f.name}`)).entries, JSON.parse(before).entries);

  f.unmount();
  f.mount();
  assert.equal(stat(m, 'key'), 'nobody:nogroup 65534:65534 600');
  assert.equal(stat(m, 'conf/a'), 'UNKNOWN:UNKNOWN 4242:4343 644');
  assert.equal(must('cat key', { cwd: m }), 'changed\n');
});

test('tar x as root keeps the archive\'s owners (fchown on the open file goes with its WRITE)', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  const src = join(f.base, 'src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc', 'bird.conf'), 'router id 1;\n');
  must(`tar --owner=nobody --group=staff -cf ${q(f.base)}/a.tar -C ${q(src)} etc`);
  f.mount();
  must(`tar -xf ${q(f.base)}/a.tar`, { cwd: f.mnt });
  assert.equal(stat(f.mnt, 'etc/bird.conf'), 'nobody:staff 65534:50 644');
  assert.equal(stat(f.mnt, 'etc'), 'nobody:staff 65534:50 755');
  // the file's fchown went with its WRITE: no SETATTR for it
  const log = f.ok(`log ${f.name}:/etc/bird.conf`);
  assert.equal(log.split('\n').filter((l) => /WRITE|SETATTR/.test(l)).length, 1, log);
});

test('an owner this node does not know shows as the mounting user; the log keeps the name', { skip: skip ?? (sh('command -v useradd && command -v userdel').code !== 0 ? 'useradd is not installed' : false), timeout: 300_000 }, async (t) => {
  const f = testFs(t);
  const user = `bfs13${process.pid % 100000}`;
  must(`useradd --no-create-home --shell /usr/sbin/nologin ${user}`);
  let removed = false;
  t.after(() => {
    if (!removed) sh(`userdel ${user}`);
  });
  f.mount();
  must(`echo x > f && chown ${user} f`, { cwd: f.mnt });
  const uid = Number(must(`id -u ${user}`).trim());
  assert.equal(stat(f.mnt, 'f'), `${user}:root ${uid}:0 644`);
  must(`userdel ${user}`);
  removed = true;
  // this node no longer knows the name (the tables are re-read within seconds): fallback
  const end = Date.now() + 30_000;
  let s = '';
  while (Date.now() < end && (s = stat(f.mnt, 'f')) !== 'root:root 0:0 644') await new Promise((r) => setTimeout(r, 200));
  assert.equal(s, 'root:root 0:0 644');
  assert.equal(lsOwner(f.ok(`ls -l ${f.name}:/`), 'f'), `${user}:-`);
});

test('chown needs authority at the path (EACCES), like any other change', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  must('mkdir mine && echo x > mine/f && echo y > top', { cwd: f.mnt });
  const bKey = JSON.parse(f.ok(`--json genkey ${q(f.home)}/b.key`)).publicKey;
  f.ok(`grant ${bKey} ${f.name}:/mine`);
  f.unmount();
  f.mount(`--key ${q(f.home)}/b.key`);
  const r = sh('chown nobody top', { cwd: f.mnt });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Permission denied/);
  must('chown nobody mine/f', { cwd: f.mnt });
  assert.equal(stat(f.mnt, 'mine/f'), 'nobody:root 65534:0 644');
  assert.equal(stat(f.mnt, 'top'), 'root:root 0:0 444'); // no authority: no write bits shown
});

// A non-root user can mount only where /dev/fuse lets it (Debian: 0666; some containers: 0600).
const nobodyFuse = skip ?? (sh('setpriv --version').code !== 0 ? 'setpriv is not installed'
  : sh(`setpriv --reuid=65534 --regid=65534 --clear-groups test -r /dev/fuse -a -w /dev/fuse`).code !== 0 ? 'uid 65534 cannot open /dev/fuse here' : null);

test('a non-root mounting user may only chgrp its own files to its groups (EPERM otherwise), as the kernel rules', { skip: nobodyFuse ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  // the node runs as nobody (uid 65534, groups nogroup and users)
  chmodSync(f.base, 0o755);
  must(`chown -R 65534:65534 ${q(f.home)} ${q(f.mnt)}`);
  const asNobody = (cmd: string) => sh(`setpriv --reuid=65534 --regid=65534 --groups=100 bash -c ${q(cmd)}`, { cwd: '/' });
  const mnt = q(f.mnt);
  const r = asNobody(`${q(BIN)} --data-dir ${q(f.home)} mount ${f.name} ${mnt} --local`);
  assert.equal(r.code, 0, r.stderr);
  t.after(() => {
    asNobody(`${q(BIN)} --data-dir ${q(f.home)} unmount ${f.name}`);
  });
  assert.equal(asNobody(`echo x > ${mnt}/f`).code, 0);
  const st = () => asNobody(`stat -c '%U:%G' ${mnt}/f`).stdout.trim();
  assert.equal(st(), 'nobody:nogroup'); // never chowned: the mounting user
  for (const cmd of [`chown root ${mnt}/f`, `chgrp staff ${mnt}/f`]) {
    const o = asNobody(cmd);
    assert.notEqual(o.code, 0, `expected a refusal: ${cmd}`);
    assert.match(o.stderr, /Operation not permitted/, cmd);
  }
  const ok = asNobody(`chgrp users ${mnt}/f`);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(st(), 'nobody:users');
});
