// fuse-native is built from its C source with patches/fuse-native.patch during setup
// (scripts/build-fuse-native.sh); a mount uses that build, and falls back to the package's
// prebuilt binary (unpatched) when there is none. Both are driven through `basefs mount`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseUnavailable, testFs, must, q, ROOT, PY } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);
const PAST = Date.parse('2001-01-01T00:00:00Z');
const PAST2 = Date.parse('2002-02-02T00:00:00Z');

// The tools the build script needs; without them setup falls back on purpose.
function noCompiler(): string | null {
  const missing = ['gcc', 'g++', 'make', 'python3', 'patch'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length ? `no ${missing.join(', ')}: setup used the prebuilt binary` : null;
}

const mtimeAtime = (mnt: string, p: string): { m: number; a: number } => {
  const [a, m] = JSON.parse(must(`${PY} -c "import os, json; s = os.stat('${p}'); print(json.dumps([s.st_atime_ns, s.st_mtime_ns]))"`, { cwd: mnt })) as number[];
  return { m: Math.floor(m / 1e6), a: Math.floor(a / 1e6) };
};

test('a mount uses the fuse-native built from source with our patch', { skip: skip ?? noCompiler() ?? false, timeout: 120_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const log = readFileSync(join(f.home, 'fs', f.name, 'node.log'), 'utf8');
  assert.match(log, /basefs: mounted tfs at /);
  assert.doesNotMatch(log, /mtime from atime/, 'the mount loaded the unpatched prebuilt binary');
  // Only the patched binding can set mtime alone (atime UTIME_OMIT) and keep the atime set before.
  must(`printf x > f && touch -a -d @${PAST2 / 1000} f && touch -m -d @${PAST / 1000} f`, { cwd: f.mnt });
  assert.deepEqual(mtimeAtime(f.mnt, 'f'), { m: PAST, a: PAST2 });
});

test('without the build, the prebuilt binary: utimens takes mtime from atime', { skip: skip ?? false, timeout: 120_000 }, (t) => {
  const f = testFs(t);
  // FUSE_NATIVE_PREBUILD chooses a build on purpose: here the package's own prebuilt one.
  f.ok(`mount ${f.name} ${q(f.mnt)} --local`, { env: { FUSE_NATIVE_PREBUILD: join(ROOT, 'node_modules', 'fuse-native') }, timeoutMs: 90_000 });
  const log = readFileSync(join(f.home, 'fs', f.name, 'node.log'), 'utf8');
  assert.match(log, /\(utimens: mtime from atime, see docs\/FUSE\.md\)/);
  // Both times given (touch -d, cp -p): right. mtime alone (touch -m -d, tar x): libfuse drops it.
  must(`printf x > f && touch -d @${PAST / 1000} f`, { cwd: f.mnt });
  assert.equal(mtimeAtime(f.mnt, 'f').m, PAST);
  must(`touch -m -d @${PAST2 / 1000} f`, { cwd: f.mnt });
  assert.equal(mtimeAtime(f.mnt, 'f').m, PAST);
});
