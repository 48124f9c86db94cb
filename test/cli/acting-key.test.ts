// Issue 12.2: --key / BASEFS_KEY are honoured while a node runs. The CLI goes through the
// control socket; the request is signed with the key the user named, not the node's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';
import { startNode } from '../reliability/lib/proc.ts';

test('with a node running, a write acts as --key / BASEFS_KEY: refused without a grant, made by that key with one', { timeout: 180_000 }, async (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'ak']);
  ok(home, ['mkdir', 'ak:/etc']);
  const bobKey = join(home, 'bob.key');
  const bob = JSON.parse(ok(home, ['--json', 'genkey', bobKey]));
  const node = await startNode(t, home, 'ak', ['--port', '0', '--no-mdns']);
  t.after(() => node.kill('SIGTERM'));
  const entries = () => JSON.parse(ok(home, ['--json', 'status', 'ak'])).entries;
  assert.equal(JSON.parse(ok(home, ['--json', 'status', 'ak'])).running, true, 'the CLI talks to the running node');
  const before = entries();

  for (const [how, args, env] of [['--key', ['--key', bobKey], {}], ['BASEFS_KEY', [], { BASEFS_KEY: bobKey }]] as const) {
    const r = basefs(home, [...args, 'write', 'ak:/etc/motd'], 'not root\n', env);
    assert.notEqual(r.code, 0, `${how}: a key without a grant must not write through the node`);
    assert.match(r.stderr, new RegExp(bob.fingerprint), `${how}: names the key`);
    assert.match(r.stderr, /\/etc\/motd/, `${how}: names the path`);
    assert.match(r.stderr, /no grant/);
  }
  assert.equal(entries(), before, 'nothing was appended');

  const missing = basefs(home, ['--key', join(home, 'nope.key'), 'write', 'ak:/etc/motd'], 'x');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no key at .*nope\.key/);
  assert.equal(entries(), before);

  ok(home, ['grant', bob.publicKey, 'ak:/etc']);
  ok(home, ['--key', bobKey, 'write', 'ak:/etc/motd'], 'from bob\n');
  const log = JSON.parse(ok(home, ['--json', 'log', 'ak:/etc/motd']));
  assert.equal(log[0].author, bob.fingerprint, 'the entry is signed by the key given');
  assert.equal(ok(home, ['cat', 'ak:/etc/motd']), 'from bob\n');
  const outside = basefs(home, ['--key', bobKey, 'mkdir', 'ak:/srv'], undefined);
  assert.notEqual(outside.code, 0);
  assert.match(outside.stderr, new RegExp(`${bob.fingerprint}.*\\/srv|\\/srv.*${bob.fingerprint}`));
  // The node's own key is still used when no key is named.
  ok(home, ['mkdir', 'ak:/srv']);
  // The private key appears in no node output.
  assert.doesNotMatch(node.output(), /PRIVATE KEY/);
});
