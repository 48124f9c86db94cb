// Issue 12.5: `basefs get NAME ADDR` must not accept whatever filesystem a peer calls NAME.
// node1 serves the real "pinfs"; node3, an impostor, bootstrapped its own "pinfs" (its own
// root key). node2 joins with the id shown by `status` on node1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, Cluster, netnsUnavailable, waitFor } from '../../harness/netns.ts';
import { callControl } from '../../src/node/control.ts';
import { controlSocketPath } from '../../src/node/datadir.ts';

const skip = netnsUnavailable();

test('get --id pins the filesystem; without it scripts are refused; a wrong id keeps nothing', { skip: skip ?? false, timeout: 300_000 }, async (t) => {
  const c = new Cluster('pinfs');
  t.after(() => c.cleanup());
  c.setupBridge();
  for (const i of [1, 2, 3]) c.addNode(i);
  for (const i of [1, 2, 3]) c.mustCli(i, ['genkey']);
  c.mustCli(1, ['bootstrap', c.name]);
  c.mustCli(1, ['write', `${c.name}:/real.txt`], { input: 'the real one\n' });
  c.mustCli(3, ['bootstrap', c.name]);
  c.mustCli(3, ['write', `${c.name}:/real.txt`], { input: 'the impostor\n' });
  const realId = JSON.parse(c.mustCli(1, ['--json', 'status', c.name])).fsId;
  const fakeId = JSON.parse(c.mustCli(3, ['--json', 'status', c.name])).fsId;
  assert.notEqual(realId, fakeId);
  assert.match(c.mustCli(1, ['list']), new RegExp(realId), 'list shows the full id');
  for (const i of [1, 3]) c.start(i);
  for (const i of [1, 3]) await waitFor(`node${i} running`, async () => ((await callControl(controlSocketPath(c.home(i), c.name), 'status', [], 10_000)) as { running: boolean }).running, 60_000);
  const fsDir = join(c.home(2), 'fs', c.name);

  // Not on a terminal, neither --id nor --yes: refused before anything is fetched.
  const script = c.cli(2, ['get', c.name, c.addr(1)], { input: '' });
  assert.notEqual(script.code, 0);
  assert.match(script.stderr, /--id FSID/);
  assert.match(script.stderr, /--yes/);
  assert.equal(existsSync(join(fsDir, 'log')), false);

  // The impostor, with the real id pinned: refused, nothing kept.
  const fake = c.cli(2, ['get', c.name, c.addr(3), '--id', realId]);
  assert.notEqual(fake.code, 0);
  assert.match(fake.stderr, new RegExp(`id ${fakeId}, not the id you pinned \\(${realId}\\)`));
  assert.equal(existsSync(join(fsDir, 'log')), false, 'nothing of the impostor was kept');
  assert.match(c.cli(2, ['get', c.name, c.addr(1), '--id', 'abc']).stderr, /64 hex digits/);

  // On a terminal: the id and the root key are shown and the answer decides (no = nothing kept).
  if (spawnSync('script', ['--version']).status === 0) {
    const cmd = `${BIN} --data-dir ${c.home(2)} get ${c.name} ${c.addr(3)}`;
    const tty = spawnSync('ip', ['netns', 'exec', c.ns(2), 'script', '-qec', cmd, '/dev/null'], { input: 'n\n', encoding: 'utf8', timeout: 120_000 });
    assert.match(tty.stdout, new RegExp(`id        ${fakeId}`), tty.stdout + tty.stderr);
    assert.match(tty.stdout, /root key  ed25519:\S+ \(fingerprint [0-9a-f]{16}\)/);
    assert.match(tty.stdout, /Trust it .*\? \[y\/N\]/);
    assert.match(tty.stdout, /not trusted; nothing was kept/);
    assert.equal(existsSync(join(fsDir, 'log')), false);
  }

  // The real one, pinned: fetched; status shows the same id.
  c.mustCli(2, ['get', c.name, c.addr(1), '--id', realId]);
  assert.equal(JSON.parse(c.mustCli(2, ['--json', 'status', c.name])).fsId, realId);
  assert.equal(c.mustCli(2, ['cat', `${c.name}:/real.txt`]), 'the real one\n');
  // A rerun against the impostor cannot mix the logs, with or without --id.
  assert.notEqual(c.cli(2, ['get', c.name, c.addr(3), '--id', fakeId]).code, 0);
  assert.notEqual(c.cli(2, ['get', c.name, c.addr(3), '--yes']).code, 0);
  assert.equal(c.mustCli(2, ['cat', `${c.name}:/real.txt`]), 'the real one\n');

  // --yes accepts what the peer serves and says what it trusted.
  const h4 = join(c.base, 'node2b');
  const yes = c.cli(2, ['--data-dir', h4, 'get', c.name, c.addr(3), '--yes']);
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stderr, new RegExp(`trusting \\(--yes\\) filesystem ${c.name}\\n  id        ${fakeId}\\n  root key  ed25519:`));
});
