import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, writeFileSync, chmodSync, readFileSync, lstatSync, existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BASEFS, basefs, ok, tmpHome } from './helpers.ts';

test('genkey writes a 0600 key, prints the public key, refuses to overwrite', (t) => {
  const home = tmpHome(t);
  const out = ok(home, ['genkey']);
  assert.match(out, /^ed25519:[A-Za-z0-9_-]{43}\nfingerprint [0-9a-f]{16}/);
  const p = join(home, 'id_ed25519');
  assert.equal(statSync(p).mode & 0o777, 0o600);
  const again = basefs(home, ['genkey']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already exists; use --force/);
  const before = readFileSync(p, 'utf8');
  const forced = ok(home, ['genkey', '--force']);
  assert.notEqual(readFileSync(p, 'utf8'), before);
  assert.notEqual(forced.split('\n')[0], out.split('\n')[0]);
  const other = ok(home, ['--json', 'genkey', join(home, 'other.key')]);
  assert.match(JSON.parse(other).publicKey, /^ed25519:/);
});

test('bad key files give clear errors', (t) => {
  const home = tmpHome(t);
  const missing = basefs(home, ['bootstrap', 'x']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no key at .*id_ed25519; create one with: basefs genkey/);
  const p = join(home, 'id_ed25519');
  writeFileSync(p, 'garbage', { mode: 0o600 });
  const corrupt = basefs(home, ['bootstrap', 'x']);
  assert.match(corrupt.stderr, /corrupt or not an Ed25519 private key/);
  ok(home, ['genkey', '--force']);
  chmodSync(p, 0o644);
  const open = basefs(home, ['bootstrap', 'x']);
  assert.match(open.stderr, /readable by group or others \(mode 644\); fix with: chmod 600/);
  assert.equal(basefs(home, ['bootstrap', 'x', '--key', join(home, 'nope')]).stderr.includes('no key at'), true);
});

test('--help answers on every command, --version prints the version', (t) => {
  const home = tmpHome(t);
  const h = ok(home, ['--help']);
  for (const c of ['genkey', 'bootstrap', 'list', 'show', 'status', 'ls', 'cat', 'write', 'grant', 'revoke', 'keys', 'log', 'revert', 'snapshot', 'blocks']) {
    assert.match(h, new RegExp(`\\n  ${c}\\b`), `${c} listed in --help`);
    const sub = basefs(home, [c, '--help']);
    assert.equal(sub.code, 0, `${c} --help`);
    assert.match(sub.stdout, /Usage: basefs/);
  }
  assert.match(ok(home, ['-v']), /^\d+\.\d+\.\d+/);
});

// Issue 12.4: another user who pre-creates the temp file genkey writes through must not end
// up owning (or reading) the key. genkey runs as root in a new PID namespace so its pid, and
// with it the old temp name `.NAME.tmp-PID`, is predictable; the attacker (uid 65534)
// pre-creates every such name in a shared sticky directory like /tmp.
test('genkey into a shared directory: the key file is ours and 0600 whatever others pre-create', { skip: process.getuid?.() !== 0 ? 'needs root (setpriv, unshare)' : false }, (t) => {
  const home = tmpHome(t);
  const shared = tmpHome(t, 'basefs-shared-');
  chmodSync(shared, 0o1777);
  const names = Array.from({ length: 64 }, (_, i) => join(shared, `.k.tmp-${i + 1}`));
  const planted = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `umask 0 && touch ${names.join(' ')}`], { encoding: 'utf8' });
  assert.equal(planted.status, 0, planted.stderr);
  const key = join(shared, 'k');
  const r = spawnSync('unshare', ['--pid', '--fork', BASEFS, '--data-dir', home, 'genkey', key], { encoding: 'utf8', env: { ...process.env, BASEFS_KEY: '' } });
  assert.equal(r.status, 0, r.stderr);
  const st = lstatSync(key);
  assert.ok(st.isFile());
  assert.equal(st.uid, 0, 'the key file belongs to the user who ran genkey');
  assert.equal(st.mode & 0o777, 0o600);
  const pem = readFileSync(key, 'utf8');
  for (const n of names) assert.equal(existsSync(n) ? readFileSync(n, 'utf8').includes(pem) : false, false, `${n} holds the key`);
  // No temp file is left behind.
  assert.deepEqual(readdirSync(shared).filter((f) => !f.startsWith('.k.tmp-') && f !== 'k'), []);
});
