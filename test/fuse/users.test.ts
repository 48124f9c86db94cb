import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync } from 'node:fs';
import { fuseUnavailable, testFs, sh, must, q, BIN } from './helpers.ts';

const skip = fuseUnavailable() ?? (process.getuid?.() !== 0 ? 'needs root to act as another user (setpriv)' : null) ?? (sh('setpriv --version').code !== 0 ? 'setpriv is not installed' : null);
if (skip) console.log(`# skipping: ${skip}`);

// Issue 13 item 4: `mount --allow-other` lets other local users in, with the kernel checking
// the modes the mount shows (default_permissions); without it only the mounting user gets in.
test('--allow-other: another uid reads and writes as the modes allow', { skip: skip ?? false, timeout: 300_000 }, (t) => {
  const f = testFs(t);
  chmodSync(f.base, 0o755); // the other user must reach the mount point
  const nobody = (cmd: string) => sh(`setpriv --reuid=65534 --regid=65534 --clear-groups bash -c ${q(cmd)}`, { cwd: '/' });
  const m = f.mnt;

  // without --allow-other: refused by the kernel, even a stat of the mount point
  f.mount();
  must('echo pub > pub', { cwd: m });
  const out = nobody(`stat ${q(m)}/pub`);
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /Permission denied/);
  f.unmount();

  f.mount('--allow-other');
  must('chmod 644 pub && echo secret > key && chmod 600 key && mkdir -m 777 drop && mkdir -m 755 ro', { cwd: m });
  const ok = (cmd: string) => {
    const r = nobody(cmd);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    return r.stdout;
  };
  const denied = (cmd: string, why = /Permission denied/) => {
    const r = nobody(cmd);
    assert.notEqual(r.code, 0, `expected a refusal: ${cmd}`);
    assert.match(r.stderr, why, cmd);
  };
  assert.equal(ok(`cat ${q(m)}/pub`), 'pub\n');
  assert.match(ok(`ls ${q(m)}`), /drop/);
  denied(`cat ${q(m)}/key`);
  denied(`echo x >> ${q(m)}/pub`);
  denied(`echo x > ${q(m)}/ro/f`);
  denied(`rm ${q(m)}/pub`);
  denied(`chmod 666 ${q(m)}/key`, /Operation not permitted/); // EPERM: not the owner
  ok(`echo theirs > ${q(m)}/drop/f`);
  // what they wrote is in the log, signed by the node's key like every change through it
  assert.equal(f.ok(`cat ${f.name}:/drop/f`), 'theirs\n');
  assert.equal(readFileSync(`${m}/key`, 'utf8'), 'secret\n'); // the mounting user (root) still reads it
});

test('--allow-other as a non-root user without user_allow_other: a clear error before mounting', { skip: skip ?? (/^\s*user_allow_other\s*$/m.test(sh('cat /etc/fuse.conf').stdout) ? '/etc/fuse.conf allows it here' : false), timeout: 120_000 }, (t) => {
  const f = testFs(t);
  chmodSync(f.base, 0o777);
  must(`chown -R 65534:65534 ${q(f.home)} ${q(f.mnt)}`);
  const r = sh(`setpriv --reuid=65534 --regid=65534 --clear-groups ${q(BIN)} --data-dir ${q(f.home)} mount ${f.name} ${q(f.mnt)} --local --allow-other`, { cwd: '/' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /user_allow_other in \/etc\/fuse\.conf/);
});
