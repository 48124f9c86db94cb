import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseUnavailable, testFs, sh, must, q, PY, BIN, mountedAt } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('unmount (SIGTERM) commits files still open for writing; errors for busy or bad mount points', { skip: skip ?? false, timeout: 300_000 }, async (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  // a second mount of the same filesystem, or on a non-empty directory, is refused
  const again = f.cli(`mount ${f.name} ${q(join(f.base, 'other'))} --local`);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already running/);
  const full = join(f.base, 'full');
  mkdirSync(full);
  writeFileSync(join(full, 'x'), 'x');
  const r = f.cli(`unmount ${f.name}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mountedAt(m), false);
  const bad = f.cli(`mount ${f.name} ${q(full)} --local`);
  assert.match(bad.stderr, /not empty/);
  f.mount();

  // a writer that never closes its file
  const writer = spawn(PY, ['-c', `
import os, sys, time
fd = os.open('held.txt', os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b'written but never closed\\n')
print('ready', flush=True)
time.sleep(120)
`], { cwd: m, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { writer.kill('SIGKILL'); });
  await new Promise<void>((res, rej) => {
    writer.stdout!.once('data', () => res());
    writer.once('exit', (c) => rej(new Error(`writer exited ${c}`)));
  });
  assert.equal(f.cli(`cat ${f.name}:/held.txt`).code, 1); // not committed yet: buffered
  // unmount by mount point works as well as by name
  const u = sh(`${q(BIN)} --data-dir ${q(f.home)} unmount ${q(m)}`, { timeoutMs: 90_000 });
  assert.equal(u.code, 0, u.stderr);
  assert.equal(mountedAt(m), false);
  writer.kill('SIGKILL');
  assert.equal(f.ok(`cat ${f.name}:/held.txt`), 'written but never closed\n');
});

test('a crashed node leaves a stale mount; the next mount (or unmount) recovers it', { skip: skip ?? false, timeout: 300_000 }, async (t) => {
  const f = testFs(t);
  const m = f.mnt;
  const startForeground = () => {
    const p = spawn(BIN, ['--data-dir', f.home, 'mount', f.name, m, '--local', '-f'], { stdio: 'ignore', detached: true });
    t.after(() => { try { process.kill(p.pid!, 'SIGKILL'); } catch { /* gone */ } });
    return p;
  };
  let node = startForeground();
  await until('the mount', () => mountedAt(m));
  // close(2) queues the commit; fsync(2) (here: sync FILE) waits until it is durable
  must(`echo survived > ${q(join(m, 'a.txt'))} && sync ${q(join(m, 'a.txt'))}`);
  node.kill('SIGKILL');
  await new Promise((r) => node.once('exit', r));
  // the kernel still has the mount, its server is gone
  const st = sh(`ls ${q(m)}`, { timeoutMs: 10_000 });
  assert.notEqual(st.code, 0);
  assert.match(st.stderr, /Transport endpoint is not connected/);
  assert.ok(mountedAt(m));

  f.mount(); // detaches the stale mount first
  assert.equal(must(`cat ${q(join(m, 'a.txt'))}`), 'survived\n');
  f.unmount();

  // crash again; this time basefs unmount cleans up
  node = startForeground();
  await until('the mount', () => mountedAt(m));
  node.kill('SIGKILL');
  await new Promise((r) => node.once('exit', r));
  const u = f.cli(`unmount ${f.name}`);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /stale/);
  assert.equal(mountedAt(m), false);

  // SIGINT on a foreground mount is a clean stop too
  node = startForeground();
  await until('the mount', () => mountedAt(m));
  must(`echo again > ${q(join(m, 'b.txt'))}`);
  const exited = new Promise<number | null>((r) => node.once('exit', (c) => r(c)));
  node.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.equal(mountedAt(m), false);
  assert.equal(f.ok(`cat ${f.name}:/b.txt`), 'again\n');
});
