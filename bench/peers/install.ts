// Installs the benchmark's own dependencies (hyperdrive, corestore) on first use, exactly as
// pinned in bench/peers/package-lock.json, into bench/peers/node_modules (git-ignored). They
// are never dependencies of basefs itself.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const DIR = fileURLToPath(new URL('.', import.meta.url));
let done = false;

function wanted(): Record<string, string> {
  const lock = JSON.parse(readFileSync(join(DIR, 'package-lock.json'), 'utf8'));
  const out: Record<string, string> = {};
  for (const name of ['hyperdrive', 'corestore', 'hypercore', 'sodium-native', 'rocksdb-native']) {
    const v = lock.packages?.[`node_modules/${name}`]?.version;
    if (v) out[name] = v;
  }
  return out;
}

function installedMatches(): boolean {
  for (const [name, v] of Object.entries(wanted())) {
    const p = join(DIR, 'node_modules', name, 'package.json');
    if (!existsSync(p)) return false;
    if (JSON.parse(readFileSync(p, 'utf8')).version !== v) return false;
  }
  return true;
}

export function ensureInstalled(): void {
  if (done) return;
  if (!installedMatches()) {
    process.stderr.write('bench peers: installing hyperdrive and corestore into bench/peers/node_modules (npm ci)...\n');
    // None of these packages has an install script: the native parts (sodium-native,
    // rocksdb-native, ...) ship prebuilt binaries inside the npm packages, so npm 11's
    // script blocking does not matter and nothing is downloaded besides the tarballs.
    execFileSync('npm', ['ci', '--prefix', DIR, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (!installedMatches()) throw new Error('bench peers: npm ci did not install the pinned versions');
  }
  done = true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureInstalled();
  console.log('bench/peers dependencies installed:', wanted());
}
