// Issue 17.3: `basefs write -r DIR NAME:/PATH` copies a local tree: files with modes and
// mtimes, directories, symlinks; special files are skipped and named; a second copy of the
// same tree makes no entries; a key without a grant stores nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, chmodSync, utimesSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';

test('write -r copies a local tree (dirs, files, modes, mtimes, symlinks), skips special files, and is idempotent', { timeout: 180_000 }, async (t) => {
  const home = tmpHome(t);
  const src = join(tmpHome(t, 'basefs-tree-'), 'site');
  mkdirSync(join(src, 'conf.d', 'deep'), { recursive: true });
  writeFileSync(join(src, 'main.conf'), 'listen 80\n');
  writeFileSync(join(src, 'conf.d', 'key.pem'), 'secret\n');
  chmodSync(join(src, 'conf.d', 'key.pem'), 0o600);
  writeFileSync(join(src, 'conf.d', 'deep', 'empty'), '');
  utimesSync(join(src, 'main.conf'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
  symlinkSync('main.conf', join(src, 'current'));
  spawnSync('mkfifo', [join(src, 'pipe')]);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'tr']);
  const before = JSON.parse(ok(home, ['--json', 'status', 'tr'])).entries;
  const r = JSON.parse(ok(home, ['--json', 'write', '-r', src, 'tr:/srv/www']));
  assert.deepEqual({ files: r.files, dirs: r.dirs, links: r.links }, { files: 3, dirs: 3, links: 1 });
  assert.deepEqual(r.skipped, [join(src, 'pipe')]);
  assert.equal(r.entries, 1 + 3 + 3 + 1, 'the missing parent /srv, 3 directories, 3 files, 1 link');
  assert.equal(ok(home, ['cat', 'tr:/srv/www/main.conf']), 'listen 80\n');
  assert.equal(ok(home, ['cat', 'tr:/srv/www/conf.d/key.pem']), 'secret\n');
  const ls = JSON.parse(ok(home, ['--json', 'ls', 'tr:/srv/www/conf.d']));
  assert.deepEqual(ls.map((x: { name: string; mode: number }) => [x.name, x.mode & 0o777]), [['deep', 0o755], ['key.pem', 0o600]]);
  const top = JSON.parse(ok(home, ['--json', 'ls', 'tr:/srv/www']));
  const main = top.find((x: { name: string }) => x.name === 'main.conf');
  assert.equal(main.mtime, Date.parse('2020-01-02T03:04:05Z'), 'mtime kept');
  assert.equal(top.find((x: { name: string }) => x.name === 'current').target, 'main.conf');
  assert.equal(JSON.parse(ok(home, ['--json', 'status', 'tr'])).entries, before + r.entries);

  const again = JSON.parse(ok(home, ['--json', 'write', '-r', src, 'tr:/srv/www']));
  assert.equal(again.entries, 0, 'the same tree again makes no entries');
  writeFileSync(join(src, 'main.conf'), 'listen 8080\n');
  assert.equal(JSON.parse(ok(home, ['--json', 'write', '-r', src, 'tr:/srv/www'])).entries, 1, 'one changed file, one entry');
  assert.equal(ok(home, ['cat', 'tr:/srv/www/main.conf']), 'listen 8080\n');

  // A key without a grant: refused, nothing stored.
  const other = join(home, 'other.key');
  ok(home, ['genkey', other]);
  const n = JSON.parse(ok(home, ['--json', 'status', 'tr'])).entries;
  const bad = basefs(home, ['--key', other, 'write', '-r', src, 'tr:/srv/other']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /may not write \/srv\/other/);
  assert.equal(JSON.parse(ok(home, ['--json', 'status', 'tr'])).entries, n);
  const file = basefs(home, ['write', '-r', join(src, 'main.conf'), 'tr:/x']);
  assert.match(file.stderr, /not a directory: .*main\.conf \(write -r copies a directory/);
  assert.equal(ok(home, ['fsck', 'tr']).trim().split('\n').at(-1), 'fsck: ok');
});
