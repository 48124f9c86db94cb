// The patched fuse-native binding is machine code: it must never be loaded from a place
// another local user can write (issue 12, item 1). An attacker (uid 65534) pre-creates the
// predictable /tmp/basefs-cache-<uid> of a victim with a library whose constructor leaves a
// marker; the victim loads FUSE from a read-only install and must not run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const ATTACKER = 65534;
const KNOWN_SHA256 = '0852320a710f20cb7f5be2ededbdcce714e88a849ae317609f734766d23e18fd';

function freeUid(): number {
  for (let u = 46000; u < 47000; u++) if (spawnSync('getent', ['passwd', String(u)]).status !== 0) return u;
  throw new Error('no free uid');
}

function why(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (runs as other uids with setpriv)';
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'the patched prebuild exists for linux-x64 only';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler to build the attacker library';
  const bin = readFileSync(join(ROOT, 'node_modules/fuse-native/prebuilds/linux-x64/node.napi.node'));
  if (createHash('sha256').update(bin).digest('hex') !== KNOWN_SHA256) return 'fuse-native prebuild is not the one we patch';
  return null;
}

function as(uid: number, args: string[], env: Record<string, string>) {
  return spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('a cache directory pre-created by another user is never loaded from', { skip: why() ?? false }, (t) => {
  const victim = freeUid();
  const work = mkdtempSync(join(tmpdir(), 'basefs-native-'));
  chmodSync(work, 0o755);
  const trap = join(tmpdir(), `basefs-cache-${victim}`);
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(trap, { recursive: true, force: true });
  });
  rmSync(trap, { recursive: true, force: true });
  // A read-only install (owned by root): its .cache cannot be created by the victim.
  const install = join(work, 'install');
  cpSync(join(ROOT, 'src'), join(install, 'src'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(install, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(install, 'node_modules'));
  const home = join(work, 'home');
  mkdirSync(home);
  chownSync(home, victim, victim);
  chmodSync(home, 0o700);
  // The attacker's library and its trap at the predictable place.
  const lib = join(work, 'evil.node');
  writeFileSync(join(work, 'evil.c'), '#include <stdio.h>\n#include <stdlib.h>\n__attribute__((constructor)) static void own(void) { const char *p = getenv("BASEFS_TEST_MARKER"); FILE *f = p ? fopen(p, "w") : 0; if (f) { fputs("constructor ran\\n", f); fclose(f); } }\n');
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', lib, join(work, 'evil.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  chmodSync(lib, 0o755);
  const rel = join(trap, 'fuse-native-patched-v2', 'build', 'Release');
  const planted = as(ATTACKER, ['sh', '-c', `umask 0 && mkdir -p ${rel} && cp ${lib} ${rel}/evil.node && chmod -R 0777 ${trap}`], { PATH: '/usr/bin:/bin' });
  assert.equal(planted.status, 0, planted.stderr);

  const marker = join(home, 'marker');
  const script = `const m = await import(${JSON.stringify('file://' + join(install, 'src/fuse/native.ts'))}); const r = m.loadFuse(); console.log(JSON.stringify({ fixed: r.utimensFixed, prebuild: process.env.FUSE_NATIVE_PREBUILD ?? null }));`;
  const r = as(victim, [process.execPath, '--no-warnings', '--input-type=module', '-e', script], { HOME: home, PATH: '/usr/bin:/bin', BASEFS_TEST_MARKER: marker });
  assert.equal(existsSync(marker), false, `the attacker's library ran as uid ${victim}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  // The patched copy went to the victim's own cache, which only the victim can write.
  assert.equal(out.fixed, true, r.stderr);
  assert.equal(out.prebuild, join(home, '.cache', 'basefs', 'fuse-native-patched-v2'));
});
