// Issue 12.3: grant and revoke take public keys only; a private key or seed given by mistake
// is refused and never written to the log, and no message repeats key material.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';

test('grant refuses seeds, PEM private keys and the local key; messages hold no key material', { timeout: 120_000 }, (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'gk']);
  const pem = readFileSync(join(home, 'id_ed25519'), 'utf8');
  const seed = Buffer.from(createPrivateKey(pem).export({ format: 'jwk' }).d as string, 'base64url');
  const secrets = [seed.toString('hex'), seed.toString('base64url'), ...pem.split('\n').filter((l) => l && !l.startsWith('-----'))];
  const entries = () => JSON.parse(ok(home, ['--json', 'status', 'gk'])).entries;
  const before = entries();
  const tries: [string, string][] = [
    ['seed as 64 hex digits', seed.toString('hex')],
    ['seed in the ed25519: form', 'ed25519:' + seed.toString('base64url')],
    ['PEM private key', pem],
    ['PEM private key, one line', pem.replace(/\n/g, ' ')],
  ];
  for (const cmd of ['grant', 'revoke']) {
    for (const [what, arg] of tries) {
      const r = basefs(home, [cmd, arg, 'gk:/a']);
      assert.notEqual(r.code, 0, `${cmd} ${what} must be refused`);
      assert.match(r.stderr, /private key|seed/, `${cmd} ${what}: says why`);
      for (const s of secrets) assert.ok(!r.stderr.includes(s) && !r.stdout.includes(s), `${cmd} ${what}: the message repeats key material`);
    }
  }
  // Anywhere on the command line, e.g. where the parser takes it for an option.
  const opt = basefs(home, ['ls', pem]);
  assert.notEqual(opt.code, 0);
  for (const s of secrets) assert.ok(!opt.stderr.includes(s), 'the option parser echoed key material');
  assert.equal(entries(), before, 'nothing was written to the log');
  const show = ok(home, ['--json', 'show', 'gk']);
  for (const s of secrets) assert.ok(!show.includes(s));
  // The public forms still work.
  const pub = JSON.parse(ok(home, ['--json', 'genkey', join(home, 'b.key')]));
  assert.match(ok(home, ['grant', pub.publicKey, 'gk:/a']), /^granted /);
  assert.match(ok(home, ['revoke', pub.fingerprint, 'gk:/a']), /^revoked /);
});
