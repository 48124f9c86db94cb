import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';

// The operator's story from SPEC.md, driven through the real CLI with no node running.
test('bootstrap, write, grant, revoke, log, revert, show, status as a user would', { timeout: 240_000 }, (t) => {
  const home = tmpHome(t);
  const bobKey = join(home, 'bob.key');
  ok(home, ['genkey']);
  const bob = JSON.parse(ok(home, ['--json', 'genkey', bobKey]));
  const boot = JSON.parse(ok(home, ['--json', 'bootstrap', 'myfs', '-i', '10.0.0.1,10.0.0.2:4001']));
  assert.match(boot.fsId, /^[0-9a-f]{64}$/);
  assert.ok(boot.port >= 10000 && boot.port <= 19999);
  assert.equal(ok(home, ['cat', 'myfs:/.cluster']), '10.0.0.1\n10.0.0.2:4001\n');
  assert.match(basefs(home, ['bootstrap', 'myfs']).stderr, /already exists/);

  ok(home, ['mkdir', '-p', 'myfs:/etc/bird']);
  const src = join(home, 'bird.conf');
  writeFileSync(src, 'router id 10.0.0.1;\n');
  ok(home, ['write', 'myfs:/etc/bird/bird.conf', src]);
  ok(home, ['write', 'myfs:/hello world ünï.txt'], 'hi there\n');
  assert.equal(ok(home, ['cat', 'myfs:/hello world ünï.txt']), 'hi there\n');
  assert.deepEqual(ok(home, ['ls', 'myfs:/']).trim().split('\n'), ['.cluster', 'etc/', 'hello world ünï.txt']);

  // Bob has no grant: refused before anything is appended, naming key, path, nearest grant.
  const before = JSON.parse(ok(home, ['--json', 'status', 'myfs'])).entries;
  const denied = basefs(home, ['--key', bobKey, 'write', 'myfs:/etc/bird/bird.conf'], 'evil\n');
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, new RegExp(bob.fingerprint));
  assert.match(denied.stderr, /\/etc\/bird\/bird\.conf/);
  assert.equal(JSON.parse(ok(home, ['--json', 'status', 'myfs'])).entries, before);

  ok(home, ['grant', bob.publicKey, 'myfs:/etc/bird']);
  const keys = JSON.parse(ok(home, ['--json', 'keys', 'myfs:/etc/bird']));
  assert.ok(keys.some((k: { fingerprint: string; path: string; rank: number }) => k.fingerprint === bob.fingerprint && k.path === '/etc/bird' && k.rank === 2));
  assert.ok(keys.some((k: { path: string; rank: number }) => k.path === '/' && k.rank === 0));
  ok(home, ['--key', bobKey, 'write', 'myfs:/etc/bird/bird.conf'], 'router id 10.0.0.9;\n');
  assert.equal(ok(home, ['cat', 'myfs:/etc/bird/bird.conf']), 'router id 10.0.0.9;\n');
  const outside = basefs(home, ['--key', bobKey, 'write', 'myfs:/etc/passwd'], 'x');
  assert.notEqual(outside.code, 0);
  assert.match(outside.stderr, /\/etc\/bird/, 'names the nearest grant bob holds');

  // Revoke by fingerprint; bob's earlier write stays, new ones are refused.
  ok(home, ['revoke', bob.fingerprint, 'myfs:/etc/bird']);
  assert.equal(ok(home, ['cat', 'myfs:/etc/bird/bird.conf']), 'router id 10.0.0.9;\n');
  assert.notEqual(basefs(home, ['--key', bobKey, 'write', 'myfs:/etc/bird/bird.conf'], 'late\n').code, 0);

  const log = JSON.parse(ok(home, ['--json', 'log', 'myfs:/etc/bird/bird.conf']));
  assert.equal(log.length, 2);
  assert.equal(log[0].winner, true);
  assert.equal(log[0].author, bob.fingerprint);
  const first = log[1].id;
  ok(home, ['revert', 'myfs:/etc/bird/bird.conf', first.slice(0, 10)]);
  assert.equal(ok(home, ['cat', 'myfs:/etc/bird/bird.conf']), 'router id 10.0.0.1;\n');
  assert.match(basefs(home, ['revert', 'myfs:/etc/bird/bird.conf', 'ffffffff']).stderr, /no version ffffffff/);

  ok(home, ['mv', 'myfs:/hello world ünï.txt', '/greeting.txt']);
  assert.equal(ok(home, ['cat', 'myfs:/greeting.txt']), 'hi there\n');
  assert.notEqual(basefs(home, ['cat', 'myfs:/hello world ünï.txt']).code, 0);
  ok(home, ['rm', 'myfs:/greeting.txt']);
  assert.match(basefs(home, ['cat', 'myfs:/greeting.txt']).stderr, /no such file: myfs:\/greeting.txt/);
  // The renamed-in version can be restored after the delete.
  const glog = JSON.parse(ok(home, ['--json', 'log', 'myfs:/greeting.txt']));
  const moved = glog.find((v: { kind: string }) => v.kind === 'RENAME');
  assert.ok(moved, 'log lists the rename that brought the file here');
  ok(home, ['revert', 'myfs:/greeting.txt', moved.id.slice(0, 12)]);
  assert.equal(ok(home, ['cat', 'myfs:/greeting.txt']), 'hi there\n');
  assert.match(basefs(home, ['rm', 'myfs:/etc']).stderr, /not empty/);

  const show = ok(home, ['show', 'myfs']);
  assert.match(show, /^\* [0-9a-f]{12} h0 BOOTSTRAP/m);
  assert.match(show, /^\* .* GRANT /m);
  assert.match(show, /^  .* WRITE +\/etc\/bird\/bird\.conf/m, 'superseded versions are shown unmarked');

  const st = JSON.parse(ok(home, ['--json', 'status', 'myfs']));
  assert.match(st.viewDigest, /^[0-9a-f]{64}$/);
  assert.equal(st.heads.length, 1);
  const list = JSON.parse(ok(home, ['--json', 'list']));
  assert.equal(list[0].name, 'myfs');
  assert.equal(list[0].fsId, boot.fsId);
  const snap = ok(home, ['snapshot', 'myfs', 'before-cleanup']);
  assert.match(snap, /snapshot before-cleanup/);
  assert.match(basefs(home, ['snapshot', 'myfs', 'before-cleanup']).stderr, /already exists/);
  const blocks = JSON.parse(ok(home, ['--json', 'blocks', 'myfs']));
  assert.ok(blocks.chunksStored >= 3);
  assert.equal(blocks.missing, 0);
});

test('clear errors for unknown filesystems, bad paths and bad keys', (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  assert.match(basefs(home, ['ls', 'nofs:/']).stderr, /no filesystem "nofs"/);
  ok(home, ['bootstrap', 'fs1']);
  assert.match(basefs(home, ['ls', 'fs1:/nope']).stderr, /no such file or directory: fs1:\/nope/);
  assert.match(basefs(home, ['write', 'fs1:/a/../b'], 'x').stderr, /\.\./);
  assert.match(basefs(home, ['write', 'fs1:/missing/dir/file'], 'x').stderr, /no such directory: \/missing\/dir/);
  assert.match(basefs(home, ['grant', 'not-a-key', 'fs1:/x']).stderr, /not a public key/);
  assert.match(basefs(home, ['grant', '--', '-----BEGIN PRIVATE KEY-----', 'fs1:/x']).stderr, /private key/);
  assert.match(basefs(home, ['bootstrap', 'bad/name']).stderr, /bad filesystem name/);
  const r = basefs(home, ['cat', 'fs1:/']);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one-line reason');
});
