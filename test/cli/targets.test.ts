// Issue 12.8: every command reads NAME:/PATH the same way (relative paths refused, the rest
// canonicalized), and grant/revoke say exactly which grant they made or took away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';

test('NAME:path without a leading slash is refused by every command; //a/./b/ is /a/b everywhere', { timeout: 180_000 }, (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'tg']);
  const bob = JSON.parse(ok(home, ['--json', 'genkey', join(home, 'b.key')]));
  const entries = () => JSON.parse(ok(home, ['--json', 'status', 'tg'])).entries;
  const before = entries();
  const cmds: [string, string[], string?][] = [
    ['ls', ['ls', 'tg:sub']], ['cat', ['cat', 'tg:sub']], ['write', ['write', 'tg:sub'], 'x'], ['mkdir', ['mkdir', 'tg:sub']],
    ['rm', ['rm', 'tg:sub']], ['mv', ['mv', 'tg:/.cluster', 'sub']], ['grant', ['grant', bob.publicKey, 'tg:sub']],
    ['revoke', ['revoke', bob.publicKey, 'tg:sub']], ['keys', ['keys', 'tg:sub']], ['log', ['log', 'tg:sub']],
    ['show', ['show', 'tg:sub']], ['revert', ['revert', 'tg:sub', 'ab']],
  ];
  for (const [name, args, input] of cmds) {
    const r = basefs(home, args, input);
    assert.notEqual(r.code, 0, `${name} accepted a relative path`);
    assert.match(r.stderr, /starts with \//, `${name}: ${r.stderr}`);
  }
  assert.equal(entries(), before, 'nothing was written');
  ok(home, ['mkdir', '-p', 'tg://a/./b/']);
  const g = ok(home, ['grant', bob.publicKey, 'tg://a/./b/']);
  assert.match(g, /^granted ed25519:\S+ \([0-9a-f]{16}\) write and grant rights at tg:\/a\/b and below/);
  assert.match(ok(home, ['ls', 'tg:/a//b/./']), /^$/);
  assert.ok(JSON.parse(ok(home, ['--json', 'keys', 'tg:/a/b'])).some((k: { path: string; fingerprint: string }) => k.path === '/a/b' && k.fingerprint === bob.fingerprint));
  assert.match(basefs(home, ['ls', 'tg:/a/../etc']).stderr, /\.\./);
});

test('revoke names the grants it removed, not just where the revoke was made', { timeout: 120_000 }, (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'rv']);
  const bob = JSON.parse(ok(home, ['--json', 'genkey', join(home, 'b.key')]));
  const carol = JSON.parse(ok(home, ['--json', 'genkey', join(home, 'c.key')]));
  ok(home, ['grant', bob.publicKey, 'rv:/sub']);
  ok(home, ['grant', bob.publicKey, 'rv:/other/deep']);
  const r = ok(home, ['revoke', bob.fingerprint, 'rv:/']);
  assert.match(r, new RegExp(`^revoked ed25519:\\S+ \\(${bob.fingerprint}\\): its grants at rv:/other/deep, rv:/sub \\(revoke entry [0-9a-f]{12} at rv:/\\)`), r);
  const again = basefs(home, ['revoke', bob.fingerprint, 'rv:/']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /holds no grant at or under rv:\//);
  // A revoke that could remove nothing is refused instead of logged: carol (rank 1 at /c)
  // cannot take back bob's grant at /c made by the root key (rank 1, not weaker than hers).
  ok(home, ['grant', carol.publicKey, 'rv:/c']);
  ok(home, ['grant', bob.publicKey, 'rv:/c']);
  const n = JSON.parse(ok(home, ['--json', 'status', 'rv'])).entries;
  const weak = basefs(home, ['--key', join(home, 'c.key'), 'revoke', bob.fingerprint, 'rv:/c']);
  assert.notEqual(weak.code, 0);
  assert.match(weak.stderr, new RegExp(`cannot revoke ${bob.fingerprint}'s grant at /c`));
  assert.equal(JSON.parse(ok(home, ['--json', 'status', 'rv'])).entries, n);
});
