// Issue 18: `mount` runs hooks like `run` does: a write through the mount under the hook's
// path runs it, with BASEFS_MOUNT naming the mount point, and the hook reads the new content
// through the mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseUnavailable, must, q, testFs } from './helpers.ts';

const skip = fuseUnavailable();

async function until<T>(what: string, cond: () => T, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a mounted node runs hooks: a write through the mount runs it, and it reads the content through BASEFS_MOUNT', { skip: skip ?? false, timeout: 180_000 }, async (t) => {
  const f = testFs(t);
  f.ok(`mkdir -p ${f.name}:/etc/app`);
  const log = join(f.base, 'runs.log');
  const script = join(f.base, 'hook.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s|%s\\n' "$BASEFS_MOUNT" "$(cat "$BASEFS_MOUNT/etc/app/conf")" >> ${q(log)}\n`, { mode: 0o755 });
  f.ok(`hook add ${f.name}:/etc/app --name app --debounce 200 -- ${q(script)}`);
  f.mount();
  const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  must(`echo v1 > ${q(join(f.mnt, 'etc/app/conf'))}`);
  await until('the hook to run after a write through the mount', () => lines().length >= 1);
  assert.equal(lines().at(-1), `${f.mnt}|v1`);
  must(`echo elsewhere > ${q(join(f.mnt, 'other.txt'))}`);
  must(`echo v2 > ${q(join(f.mnt, 'etc/app/conf'))}`);
  await until('a second run with the new content', () => lines().at(-1) === `${f.mnt}|v2`);
  assert.ok(!lines().some((l) => l.includes('elsewhere')));
  f.unmount();
});
