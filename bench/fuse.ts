import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { metaBench, META_DIRS, META_FILES, type MetaTimes } from './fuse-meta.ts';

// FUSE benchmark: the same fio jobs and the same tarball extraction on a basefs mount and on
// the disk under it (the mount's data dir lives on that disk), in one run, as ratios.
//   sequential write  fio rw=write bs=1M, end_fsync=1 (on basefs the fsync commits the file)
//   sequential read   fio rw=read bs=1M, page cache dropped first
//   random read       fio rw=randread bs=4k, 15 s, page cache dropped first
//   extraction        tar -xf of this repo's src/ + node_modules/@libp2p (thousands of files);
//                     on disk with and without a final sync (every close on basefs is durable)
//   metadata          10,000 files of 4 KiB in 100 directories: create, stat, read, remove
//                     (bench/fuse-meta.ts)
// BENCH_FUSE_MB sets the fio file size (default 1024); BENCH_FUSE_ONLY=meta runs only the
// metadata rows. Goals (docs/FUSE.md): write >= 30% and read >= 50% of the disk, extraction
// within 10x, metadata create within 5x and the rest within 3x.

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'basefs');

interface Fio {
  mibps: number;
  iops: number;
}

function sh(cmd: string, args: string[], o: { cwd?: string; timeoutMs?: number; input?: string } = {}): { code: number; out: string; err: string } {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.BASEFS_KEY;
  const r = spawnSync(cmd, args, { cwd: o.cwd, input: o.input, encoding: 'utf8', timeout: o.timeoutMs ?? 1_800_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function must(cmd: string, args: string[], o: Parameters<typeof sh>[2] = {}): string {
  const r = sh(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.err}`);
  return r.out;
}

function ensureFio(): void {
  if (sh('fio', ['--version']).code === 0) return;
  if (process.getuid?.() === 0) {
    process.stderr.write('bench fuse: installing fio (apt-get install -y fio)\n');
    if (sh('apt-get', ['install', '-y', '-q', 'fio']).code !== 0) sh('bash', ['-c', 'apt-get update -q && apt-get install -y -q fio']);
  }
  if (sh('fio', ['--version']).code !== 0) throw new Error('fio is not installed (apt-get install fio)');
}

let cachesDroppable = true;
function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    cachesDroppable = false;
  }
}

function fio(file: string, rw: string, bs: string, mb: number, extra: string[] = []): Fio {
  const out = must('fio', ['--name=b', `--filename=${file}`, `--rw=${rw}`, `--bs=${bs}`, `--size=${mb}M`, '--ioengine=psync', '--fallocate=none', '--output-format=json', ...extra]);
  const j = JSON.parse(out.slice(out.indexOf('{')));
  const job = j.jobs[0];
  const side = rw.includes('write') ? job.write : job.read;
  return { mibps: side.bw_bytes / 2 ** 20, iops: side.iops };
}

function timeIt(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length || 1;
  } catch {
    return 1;
  }
}

const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
const f1 = (n: number) => n.toFixed(1);

export async function runFuseBench(): Promise<string> {
  const MB = Number(process.env.BENCH_FUSE_MB ?? 1024);
  if (!existsSync('/dev/fuse')) return '## FUSE\n\nSkipped: /dev/fuse is absent.\n';
  ensureFio();
  const dir = join(ROOT, '.bench', `fuse-${process.pid}`);
  const home = join(dir, 'home');
  const mnt = join(dir, 'mnt');
  const disk = join(dir, 'disk');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(mnt, { recursive: true });
  mkdirSync(disk, { recursive: true });
  const cli = (args: string[]) => must(BIN, ['--data-dir', home, ...args], { timeoutMs: 300_000 });
  let mounted = false;
  const load0 = loadavg()[0];
  try {
    cli(['genkey']);
    cli(['bootstrap', 'bench']);
    const info = JSON.parse(cli(['--json', 'mount', 'bench', mnt, '--local']));
    mounted = true;
    const pid: number = info.pid;

    const onlyMeta = process.env.BENCH_FUSE_ONLY === 'meta';
    const meta: Record<string, MetaTimes> = {};
    let diskMetaSync = 0;
    for (const [label, target] of [['disk', disk], ['basefs', mnt]] as const) {
      process.stderr.write(`bench fuse: metadata on ${label}\n`);
      const root = join(target, 'meta');
      mkdirSync(root);
      meta[label] = metaBench(root);
      if (label === 'disk') {
        // the create again, then a sync, for the durable comparison (basefs's closes are)
        must('rm', ['-rf', root]);
        mkdirSync(root);
        diskMetaSync = timeIt(() => {
          metaBench(root, ['create']);
          must('sync', ['-f', root]);
        });
        must('rm', ['-rf', root]);
      }
    }
    const metaRows = metaTable(meta.disk, meta.basefs, diskMetaSync);
    if (onlyMeta) {
      cli(['unmount', 'bench']);
      mounted = false;
      return ['## FUSE metadata', '', ...metaRows, '', `Load average (1 min) at start / end: ${load0.toFixed(1)} / ${loadavg()[0].toFixed(1)} on ${cpuCount()} cores.`, ''].join('\n');
    }

    const res: Record<string, { w: Fio; r: Fio; rr: Fio }> = {};
    for (const [label, target] of [['disk', disk], ['basefs', mnt]] as const) {
      process.stderr.write(`bench fuse: fio on ${label} (${MB} MiB)\n`);
      const file = join(target, 'seq.bin');
      const w = fio(file, 'write', '1M', MB, ['--end_fsync=1']);
      dropCaches();
      const r = fio(file, 'read', '1M', MB);
      dropCaches();
      const rr = fio(file, 'randread', '4k', MB, ['--time_based', '--runtime=15']);
      res[label] = { w, r, rr };
    }
    const rss = peakRssMb(pid);

    // a real source tree
    process.stderr.write('bench fuse: tarball extraction\n');
    const tarball = join(dir, 'tree.tar');
    must('tar', ['-C', ROOT, '-cf', tarball, 'src', 'node_modules/@libp2p']);
    const files = Number(must('bash', ['-c', `tar -tf ${JSON.stringify(tarball)} | grep -vc '/$'`]).trim());
    const tarMb = Number(must('stat', ['-c', '%s', tarball]).trim()) / 2 ** 20;
    dropCaches();
    mkdirSync(join(disk, 'x'));
    const diskTar = timeIt(() => must('tar', ['-C', join(disk, 'x'), '-xf', tarball]));
    const diskSync = diskTar + timeIt(() => must('sync', ['-f', join(disk, 'x')]));
    dropCaches();
    mkdirSync(join(mnt, 'x'));
    const fuseTar = timeIt(() => must('tar', ['-C', join(mnt, 'x'), '-xf', tarball]));
    const same = sh('diff', ['-r', join(disk, 'x'), join(mnt, 'x')]).code === 0;

    cli(['unmount', 'bench']);
    mounted = false;
    const d = res.disk;
    const b = res.basefs;
    return [
      '## FUSE',
      '',
      `fio (psync, 1 job) on a basefs mount vs the disk under it, file ${MB} MiB; extraction of a ${f1(tarMb)} MiB tarball with ${files} files (src/ + node_modules/@libp2p). Page cache dropped before reads${cachesDroppable ? '' : ' (not possible here: not root, read numbers are cache-warm)'}. Commands: \`node bench/fuse.ts\`, \`BENCH_FUSE_MB=256 node bench/fuse.ts\`.`,
      '',
      '| test | disk | basefs | basefs / disk | goal |',
      '|---|---|---|---|---|',
      `| sequential write, 1 MiB blocks, end_fsync | ${f1(d.w.mibps)} MiB/s | ${f1(b.w.mibps)} MiB/s | ${pct(b.w.mibps, d.w.mibps)} | >= 30% |`,
      `| sequential read, 1 MiB blocks | ${f1(d.r.mibps)} MiB/s | ${f1(b.r.mibps)} MiB/s | ${pct(b.r.mibps, d.r.mibps)} | >= 50% |`,
      `| random read, 4 KiB, 15 s | ${Math.round(d.rr.iops)} IOPS | ${Math.round(b.rr.iops)} IOPS | ${pct(b.rr.iops, d.rr.iops)} | - |`,
      `| tar -xf until tar exits (disk: + sync; basefs: every close is durable when it returns, docs/FUSE.md) | ${f1(diskTar)} s (${f1(diskSync)} s) | ${f1(fuseTar)} s | ${f1(fuseTar / diskTar)}x (${f1(fuseTar / diskSync)}x) | within 10x |`,
      ...metaRows.slice(2),
      '',
      `Load average (1 min) at start / end: ${load0.toFixed(1)} / ${loadavg()[0].toFixed(1)} on ${cpuCount()} cores: the FUSE path is CPU- and scheduling-bound (every request crosses kernel, libfuse thread and the Node event loop), the disk path mostly is not, so a busy machine lowers the ratios.`,
      '',
      `Extracted trees identical: ${same ? 'yes' : 'NO'}. Peak RSS of the mounted node during the run: ${rss ?? '?'} MiB (write buffers above 4 MiB per file go to a temp file, so a ${MB} MiB write does not grow memory).`,
      '',
    ].join('\n');
  } finally {
    if (mounted) sh(BIN, ['--data-dir', home, 'unmount', 'bench', '--force', '--timeout', '60']);
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mnt} `)) sh('fusermount', ['-uz', mnt]);
    if (!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mnt} `)) rmSync(dir, { recursive: true, force: true });
  }
}

// Rows (with the table header) for the metadata phases; the disk's create also with a sync.
function metaTable(d: MetaTimes, b: MetaTimes, diskCreateSync: number): string[] {
  const what = `${META_FILES.toLocaleString('en')} files of 4 KiB in ${META_DIRS} directories`;
  const row = (label: string, ds: string, bs: number, ratio: string, goal: string) => `| metadata: ${label} | ${ds} | ${f1(bs)} s | ${ratio} | ${goal} |`;
  return [
    '| test | disk | basefs | basefs / disk | goal |',
    '|---|---|---|---|---|',
    row(`create ${what} (disk: + sync)`, `${f1(d.create)} s (${f1(diskCreateSync)} s)`, b.create, `${f1(b.create / d.create)}x (${f1(b.create / diskCreateSync)}x)`, 'within 5x'),
    row('stat each (cold)', `${f1(d.stat)} s`, b.stat, `${f1(b.stat / d.stat)}x`, 'within 3x'),
    row('read each (cold)', `${f1(d.read)} s`, b.read, `${f1(b.read / d.read)}x`, 'within 3x'),
    row('remove each, then the directories', `${f1(d.remove)} s`, b.remove, `${f1(b.remove / d.remove)}x`, 'within 3x'),
  ];
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/bench/fuse.ts')) {
  runFuseBench().then((s) => process.stdout.write(s + '\n'), (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  });
}
