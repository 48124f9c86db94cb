import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

// FUSE metadata benchmark (issue 13): 10,000 files of 4 KiB in 100 directories are created,
// then stat'ed, read and removed, on the basefs mount and on the disk under it. Each phase runs
// in a child process (a stuck mount fails the bench, never hangs it), one file at a time, as
// cp -r, tar and rm -r do. Goals (docs/FUSE.md): create within 5x of the disk, the rest within 3x.

export interface MetaTimes {
  create: number;
  stat: number;
  read: number;
  remove: number;
}

export const META_DIRS = 100;
export const META_FILES = 10_000;

// The workload, run by `node -e` in the child: argv = root, phase; prints seconds.
const CHILD = `
const fs = require('node:fs');
const [root, phase, dirs, files] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const data = Buffer.alloc(4096, 120);
const per = files / dirs;
const t = performance.now();
const buf = Buffer.alloc(8192);
for (let d = 0; d < dirs; d++) {
  const dir = root + '/d' + d;
  if (phase === 'create') fs.mkdirSync(dir);
  for (let i = 0; i < per; i++) {
    const f = dir + '/f' + i;
    if (phase === 'create') fs.writeFileSync(f, data);
    else if (phase === 'stat') { if (fs.statSync(f).size !== 4096) throw new Error('bad size ' + f); }
    else if (phase === 'read') { const fd = fs.openSync(f, 'r'); const n = fs.readSync(fd, buf, 0, 8192, 0); fs.closeSync(fd); if (n !== 4096) throw new Error('short read ' + f); }
    else if (phase === 'remove') fs.unlinkSync(f);
  }
  if (phase === 'remove') fs.rmdirSync(dir);
}
process.stdout.write(String((performance.now() - t) / 1000));
`;

function phase(root: string, name: keyof MetaTimes): number {
  const r = spawnSync(process.execPath, ['-e', CHILD, root, name, String(META_DIRS), String(META_FILES)], { encoding: 'utf8', timeout: 1_800_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`metadata ${name} on ${root} failed (${r.status}): ${r.stderr}${r.error ?? ''}`);
  return Number(r.stdout.trim());
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // not root: reads are cache-warm on both sides
  }
}

// Runs the four phases in root (an empty directory). The page cache is dropped before stat and
// read, so both sides start cold.
export function metaBench(root: string, only?: (keyof MetaTimes)[]): MetaTimes {
  const out: MetaTimes = { create: 0, stat: 0, read: 0, remove: 0 };
  for (const p of ['create', 'stat', 'read', 'remove'] as const) {
    if (only && !only.includes(p)) continue;
    if (p === 'stat' || p === 'read') dropCaches();
    out[p] = phase(root, p);
  }
  return out;
}
