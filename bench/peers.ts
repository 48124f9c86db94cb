// Hyperdrive comparison (issue 7): the same workloads on basefs and on Hyperdrive, in
// alternation, BENCH_PEERS_ROUNDS rounds (default 3), medians and ratios (> 1: basefs better).
//
//   node bench/peers.ts                    prints the markdown section, writes docs/bench-peers.svg
//   npm run bench -- --peers               the same, through bench/all.ts (writes BENCHMARKS.md)
//   BENCH_PEERS_SCALE=0.05 BENCH_PEERS_ROUNDS=1 node bench/peers.ts     quick check
//
// Every measurement runs in a fresh worker process (`--worker`), and the second node of the
// replication workloads in a process of its own (`--peer`), so neither system inherits the
// other's heap, caches or event loop. Workloads and setup: docs/BENCH-PEERS.md.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem, release, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  workload, prandom, smallFiles, dirsOf, sha256hex, diskUsage, now, median, CountingProxy,
  servePeer, PeerClient, type SystemName, type Workload, type PeerRequest,
} from './peers/common.ts';
import { renderSvg, type Bar } from './peers/svg.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = dirname(dirname(SELF));
const SVG_PATH = join(ROOT, 'docs', 'bench-peers.svg');
const DOC_PATH = join(ROOT, 'docs', 'BENCH-PEERS.md');
const DOC_START = '<!-- results:start (written by bench/peers.ts) -->';
const DOC_END = '<!-- results:end -->';
const LARGE = '/large.bin';

// ---------------------------------------------------------------- the two systems

export interface Writer {
  readonly dir: string;
  readonly key: string; // what the second node needs to find the drive (valid after open)
  open(): Promise<void>;
  mkdirs(dirs: string[]): Promise<void>;
  put(path: string, data: Uint8Array): Promise<void>;
  putDedup?(path: string, data: Uint8Array): Promise<void>;
  get(path: string): Promise<Uint8Array>;
  logicalBytes(): Promise<number>;
  serve(): Promise<{ host: string; port: number; key: string }>;
  serverStats?(): Record<string, number>;
  close(): Promise<void>;
}

export interface Peer {
  init(key: string): Promise<void>;
  fetchAll(port: number): Promise<void>;
  live(port: number): Promise<void>;
  fetchUpdate(path: string, expectSha: string): Promise<void>;
  digest(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

interface ColdResult { firstReadMs: number; listMs: number; files: number; rssMb: number; load?: number[] }

async function makeWriter(system: SystemName, dir: string): Promise<Writer> {
  if (system === 'hyperdrive') {
    const { HyperWriter } = await import('./peers/hyper.ts');
    return new HyperWriter(dir);
  }
  const { BasefsWriter } = await import('./peers/basefs.ts');
  return new BasefsWriter(dir);
}

async function makePeer(system: SystemName, dir: string): Promise<Peer> {
  if (system === 'hyperdrive') {
    const { HyperPeer } = await import('./peers/hyper.ts');
    return new HyperPeer(dir);
  }
  const { BasefsPeer } = await import('./peers/basefs.ts');
  return new BasefsPeer(dir);
}

async function coldOpen(system: SystemName, dir: string, key: string, probe: string): Promise<ColdResult> {
  if (system === 'hyperdrive') return (await import('./peers/hyper.ts')).hyperColdOpen(dir, key, probe);
  return (await import('./peers/basefs.ts')).basefsColdOpen(dir, key, probe);
}

// ---------------------------------------------------------------- worker: one system, one job

interface EditResult { writeMs: number; storedLogical: number; fetchMs: number; wire: number; contentIn?: number }

interface DriveResult {
  smallWriteMs: number;
  smallReadMs: number;
  largeWriteMs: number;
  largeReadMs: number;
  diskAfterWrites: number;
  logicalAfterWrites: number;
  replMs: number;
  replWire: number;
  replConnections: number;
  replAttempts: number; // runs of `basefs get` needed (it is resumable); 1 for Hyperdrive
  replIncompleteFirst: number; // files the first run left incomplete
  replFailed: boolean;
  replServer: Record<string, number>; // the first node's network counters after replication
  errors: string[];
  load?: number[]; // 1-minute load average of the machine before and after the job
  edit: EditResult;
  editDedup?: EditResult;
  insert: EditResult; // one byte inserted; Hyperdrive with its dedup option
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`verification failed: ${what}`);
}

function spawnPeer(system: SystemName, dir: string): PeerClient {
  const child = spawn(process.execPath, [SELF, '--peer', system, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new PeerClient(child);
}

async function driveWorker(system: SystemName, w: Workload, tmp: string): Promise<DriveResult> {
  const A = await makeWriter(system, join(tmp, 'a'));
  await A.open();
  const files = smallFiles(w.smallFiles, w.smallDirs);

  // 1. small files, written one after the other (each acknowledged before the next), then read
  let t = now();
  await A.mkdirs(dirsOf(files));
  for (const f of files) await A.put(f.path, f.data);
  const smallWriteMs = now() - t;
  const back: Uint8Array[] = [];
  t = now();
  for (const f of files) back.push(await A.get(f.path));
  const smallReadMs = now() - t;
  for (let i = 0; i < files.length; i++) check(Buffer.compare(back[i], files[i].data) === 0, `small file ${files[i].path}`);
  back.length = 0;

  // 2. one large file written, then read back
  let large = prandom('large', w.largeBytes);
  t = now();
  await A.put(LARGE, large);
  const largeWriteMs = now() - t;
  t = now();
  let got: Uint8Array | null = await A.get(LARGE);
  const largeReadMs = now() - t;
  check(Buffer.compare(got, large) === 0, 'large file read back');
  got = null;
  const logicalAfterWrites = await A.logicalBytes();
  await A.close();
  const diskAfterWrites = diskUsage(A.dir); // closed: logs and memtables flushed

  // 3. replication of the whole drive to a second node (own process) through a counting proxy.
  // A step that fails is recorded (its figures NaN, shown as "failed") and the run goes on.
  const errors: string[] = [];
  const failed = (what: string, e: unknown) => errors.push(`${what}: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
  const addr = await A.serve();
  const peer = spawnPeer(system, join(tmp, 'b'));
  try {
    await peer.call({ op: 'init', key: addr.key });
    const repl = await peer.call<ReplResult>({ op: 'fetchAll', host: addr.host, port: addr.port });
    if (repl.error) failed('replication', repl.error);
    const expect: Record<string, string> = {};
    for (const f of files) expect[f.path] = sha256hex(f.data);
    expect[LARGE] = sha256hex(large);
    const dig = await peer.call<Record<string, string>>({ op: 'digest' });
    const wrong = Object.entries(expect).filter(([p, h]) => dig[p] !== h).length;
    if (wrong && !repl.error) failed('replication', `${wrong} files missing or different on the second node`);
    if (repl.error) repl.ms = NaN;
    const replServer = A.serverStats?.() ?? {};
    await peer.call({ op: 'live' });

    // 4. one byte of the large file changed (overwritten in place), file re-written
    const edit = async (offset: number, dedup: boolean, insert = false): Promise<EditResult> => {
      if (insert) large = Buffer.concat([large.subarray(0, offset), Buffer.from([0x5a]), large.subarray(offset)]);
      else large[offset] ^= 0xff;
      const sha = sha256hex(large);
      const l0 = await A.logicalBytes();
      const before = await peer.call<Record<string, number>>({ op: 'resetBytes' });
      const t0 = now();
      if (dedup) await A.putDedup!(LARGE, large);
      else await A.put(LARGE, large);
      const writeMs = now() - t0;
      const storedLogical = (await A.logicalBytes()) - l0;
      check(Buffer.compare(await A.get(LARGE), large) === 0, 'edited file read back');
      let fetchMs = NaN;
      let wire = NaN;
      let contentIn: number | undefined;
      try {
        const u = await peer.call<{ ms: number; wire: number; stats: Record<string, number> }>({ op: 'fetchUpdate', path: LARGE, sha });
        fetchMs = u.ms;
        wire = u.wire;
        if (u.stats.contentBytesIn !== undefined && before.contentBytesIn !== undefined) contentIn = u.stats.contentBytesIn - before.contentBytesIn;
      } catch (e) {
        failed(dedup ? 'edit (dedup), second node' : 'edit, second node', e);
      }
      return { writeMs, storedLogical, fetchMs, wire, contentIn };
    };
    const e1 = await edit(w.editOffset, false);
    const e2 = A.putDedup ? await edit(w.editOffset2, true) : undefined;
    // 5. one byte inserted (everything after it shifts): Hyperdrive with its dedup option
    const e3 = await edit(w.insertOffset, !!A.putDedup, true);
    return {
      smallWriteMs, smallReadMs, largeWriteMs, largeReadMs, diskAfterWrites, logicalAfterWrites,
      replMs: repl.ms, replWire: repl.wire, replConnections: repl.connections, replAttempts: repl.attempts, replIncompleteFirst: repl.incompleteFirst,
      replFailed: !!repl.error || wrong > 0, replServer, edit: e1, editDedup: e2, insert: e3, errors,
    };
  } finally {
    await peer.close();
    await A.close();
  }
}

interface ReplResult { ms: number; wire: number; connections: number; attempts: number; incompleteFirst: number; error?: string }

// Builds the drive for the cold-open workload (not timed as part of the comparison).
async function coldBuildWorker(system: SystemName, w: Workload, dir: string): Promise<{ key: string; probe: string; buildMs: number; disk: number }> {
  const A = await makeWriter(system, dir);
  await A.open();
  const files = smallFiles(w.coldFiles, Math.max(1, Math.round(w.coldFiles / 100)), 'cold');
  const t = now();
  await A.mkdirs(dirsOf(files));
  for (const f of files) await A.put(f.path, f.data);
  const buildMs = now() - t;
  const key = A.key;
  await A.close();
  return { key, probe: files[Math.floor(files.length / 2) + 7].path, buildMs, disk: diskUsage(dir) };
}

// The second node's process: answers JSON-lines requests from the worker.
async function peerMain(system: SystemName, dir: string): Promise<void> {
  const peer = await makePeer(system, dir);
  let proxy: CountingProxy | null = null;
  await servePeer(async (req: PeerRequest) => {
    switch (req.op) {
      case 'init':
        await peer.init(req.key as string);
        return null;
      case 'fetchAll': {
        proxy = new CountingProxy({ host: req.host as string, port: req.port as number });
        const port = await proxy.listen();
        const t = now();
        let error: string | undefined;
        try {
          await peer.fetchAll(port);
        } catch (e) {
          error = (e as Error).message;
        }
        const ms = now() - t;
        const extra = peer as { attempts?: number; incompleteFirst?: number };
        const r: ReplResult = { ms, wire: proxy.total, connections: proxy.connections, attempts: extra.attempts ?? 1, incompleteFirst: extra.incompleteFirst ?? 0, error };
        return r;
      }
      case 'live':
        await peer.live(proxy!.port);
        return null;
      case 'resetBytes':
        proxy?.reset();
        return (peer as { stats?: () => Record<string, number> }).stats?.() ?? {};
      case 'fetchUpdate': {
        const t = now();
        await peer.fetchUpdate(req.path as string, req.sha as string);
        return { ms: now() - t, wire: proxy ? proxy.total : NaN, stats: (peer as { stats?: () => Record<string, number> }).stats?.() ?? {} };
      }
      case 'digest':
        return peer.digest();
      case 'close':
        await peer.close();
        await proxy?.close();
        return null;
      default:
        throw new Error(`unknown op ${req.op}`);
    }
  });
  process.exit(0);
}

async function workerMain(job: { system: SystemName; kind: 'drive' | 'coldBuild' | 'coldOpen'; scale: number; dir?: string; key?: string; probe?: string }): Promise<void> {
  const w = workload(job.scale);
  let result: unknown;
  if (job.kind === 'drive') {
    const tmp = mkdtempSync(join(tmpdir(), `bench-peers-${job.system}-`));
    try {
      result = await driveWorker(job.system, w, tmp);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else if (job.kind === 'coldBuild') {
    result = await coldBuildWorker(job.system, w, job.dir!);
  } else {
    result = await coldOpen(job.system, job.dir!, job.key!, job.probe!);
  }
  process.stdout.write('\n@@RESULT ' + JSON.stringify(result) + '\n');
  process.exit(0);
}

// Runs one job in a fresh process and returns its result.
function runJob<T>(job: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, '--worker', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 50000) err = err.slice(-20000);
    });
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(9)) as T);
      else reject(new Error(`${job.system} ${job.kind} worker failed (exit ${code}):\n${err.slice(-4000)}`));
    });
  });
}

// ---------------------------------------------------------------- orchestration and report

interface Row {
  group: string;
  measure: string;
  unit: string;
  better: 'higher' | 'lower';
  ours: number;
  theirs: number;
  theirsLabel?: string; // when the Hyperdrive figure is from a variant
  fmt: (v: number) => string;
}

const MiB = 2 ** 20;
const fmtBytes = (b: number): string => {
  if (!Number.isFinite(b)) return 'n/a';
  const a = Math.abs(b);
  if (a >= 10 * 2 ** 30) return `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (a >= 10 * MiB) return `${(b / MiB).toFixed(0)} MiB`;
  if (a >= MiB) return `${(b / MiB).toFixed(1)} MiB`;
  if (a >= 10 * 1024) return `${(b / 1024).toFixed(0)} KiB`;
  if (a >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
};
const fmtSecRaw = (ms: number): string => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const fmtSec = fmtSecRaw;
const fmtRate = (unit: string) => (v: number): string => `${v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1)} ${unit}`;

function ratioOf(r: Row): number {
  return r.better === 'higher' ? r.ours / r.theirs : r.theirs / r.ours;
}

function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x >= 100) return `${Math.round(x)}x`;
  if (x >= 10) return `${x.toFixed(0)}x`;
  return `${x.toFixed(2)}x`;
}

export async function runPeersBench(): Promise<string> {
  const scale = Number(process.env.BENCH_PEERS_SCALE ?? 1);
  // BENCH_PEERS_COLD_ONLY=1: only the cold-open workload (rerun after a change to opening).
  const coldOnly = !!process.env.BENCH_PEERS_COLD_ONLY;
  const rounds = Math.max(1, Number(process.env.BENCH_PEERS_ROUNDS ?? 3));
  if (!(scale > 0)) throw new Error('BENCH_PEERS_SCALE must be > 0');
  const w = workload(scale);
  const { ensureInstalled } = await import('./peers/install.ts');
  ensureInstalled();
  const { hyperVersions } = await import('./peers/hyper.ts');
  const versions = hyperVersions();
  const systems: SystemName[] = ['basefs', 'hyperdrive'];
  const log = (s: string) => process.stderr.write(`bench peers: ${s}\n`);
  const started = now();

  const drive: Record<SystemName, DriveResult[]> = { basefs: [], hyperdrive: [] };
  const cold: Record<SystemName, ColdResult[]> = { basefs: [], hyperdrive: [] };
  const build: Record<string, { key: string; probe: string; buildMs: number; disk: number }> = {};
  const coldRoot = mkdtempSync(join(tmpdir(), 'bench-peers-cold-'));
  try {
    // The cold-open drives are built once per system, then opened cold every round.
    for (const s of systems) {
      log(`building the ${w.coldFiles.toLocaleString('en')}-file drive on ${s}...`);
      build[s] = await runJob({ system: s, kind: 'coldBuild', scale, dir: join(coldRoot, s) });
      log(`  built in ${fmtSec(build[s].buildMs)}`);
    }
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? systems : [...systems].reverse();
      for (const s of coldOnly ? [] : order) {
        log(`round ${r + 1}/${rounds}: ${s} drive workloads...`);
        const load0 = loadavg()[0];
        const d = await runJob<DriveResult>({ system: s, kind: 'drive', scale });
        d.load = [load0, loadavg()[0]];
        drive[s].push(d);
        log(`  small write ${fmtSec(d.smallWriteMs)}, read ${fmtSec(d.smallReadMs)}; large write ${fmtSec(d.largeWriteMs)}, read ${fmtSec(d.largeReadMs)}; replication ${fmtSec(d.replMs)} ${fmtBytes(d.replWire)}; edit stored ${fmtBytes(d.edit.storedLogical)}, sent ${fmtBytes(d.edit.wire)}`);
      }
      for (const s of order) {
        log(`round ${r + 1}/${rounds}: ${s} cold open...`);
        const cload0 = loadavg()[0];
        const c = await runJob<ColdResult>({ system: s, kind: 'coldOpen', scale, dir: join(coldRoot, s), key: build[s].key, probe: build[s].probe });
        c.load = [cload0, loadavg()[0]];
        check(c.files >= w.coldFiles, `${s} cold open listed ${c.files} files`);
        cold[s].push(c);
        log(`  first read ${fmtSec(c.firstReadMs)}, list all ${fmtSec(c.listMs)}, ${c.rssMb} MB`);
      }
    }
  } finally {
    rmSync(coldRoot, { recursive: true, force: true });
  }
  const data: RunData = { scale, rounds, versions, totalMs: now() - started, date: new Date().toISOString(), machine: machine(), drive, cold, build };
  // Raw figures, so the report and the plot can be rendered again (node bench/peers.ts --render FILE).
  if (coldOnly) return renderCold(data);
  const jsonPath = process.env.BENCH_PEERS_JSON ?? join(ROOT, '.bench', 'peers-last.json');
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify(data, null, 1) + '\n');
  log(`raw results in ${jsonPath}`);
  return renderReport(data);
}

interface RunData {
  scale: number;
  rounds: number;
  versions: { hyperdrive: string; corestore: string; hypercore: string };
  totalMs: number;
  date: string;
  machine: string;
  drive: Record<SystemName, DriveResult[]>;
  cold: Record<SystemName, ColdResult[]>;
  build: Record<string, { key: string; probe: string; buildMs: number; disk: number }>;
}

// The markdown section from a run's raw figures; also writes docs/bench-peers.svg and the
// results block of docs/BENCH-PEERS.md.
export function renderReport(data: RunData): string {
  const { scale, rounds, versions, drive, cold, build } = data;
  const w = workload(scale);
  const systems: SystemName[] = ['basefs', 'hyperdrive'];
  const md = (s: SystemName, f: (d: DriveResult) => number) => median(drive[s].map(f));
  const mc = (s: SystemName, f: (c: ColdResult) => number) => median(cold[s].map(f));
  const smallBytes = smallFiles(w.smallFiles, w.smallDirs).reduce((a, f) => a + f.data.length, 0);
  const nSmall = w.smallFiles;
  const largeMiB = w.largeBytes / MiB;
  const rows: Row[] = [
    { group: `${nSmall.toLocaleString('en')} small files (1-4 KiB)`, measure: 'write, one file after another', unit: 'files/s', better: 'higher', ours: nSmall / (md('basefs', (d) => d.smallWriteMs) / 1000), theirs: nSmall / (md('hyperdrive', (d) => d.smallWriteMs) / 1000), fmt: fmtRate('files/s') },
    { group: '', measure: 'read back', unit: 'files/s', better: 'higher', ours: nSmall / (md('basefs', (d) => d.smallReadMs) / 1000), theirs: nSmall / (md('hyperdrive', (d) => d.smallReadMs) / 1000), fmt: fmtRate('files/s') },
    { group: `one ${fmtBytes(w.largeBytes)} file`, measure: 'write', unit: 'MiB/s', better: 'higher', ours: largeMiB / (md('basefs', (d) => d.largeWriteMs) / 1000), theirs: largeMiB / (md('hyperdrive', (d) => d.largeWriteMs) / 1000), fmt: fmtRate('MiB/s') },
    { group: '', measure: 'read back', unit: 'MiB/s', better: 'higher', ours: largeMiB / (md('basefs', (d) => d.largeReadMs) / 1000), theirs: largeMiB / (md('hyperdrive', (d) => d.largeReadMs) / 1000), fmt: fmtRate('MiB/s') },
    { group: 'disk used', measure: 'after the small files and the large file (store closed)', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.diskAfterWrites), theirs: md('hyperdrive', (d) => d.diskAfterWrites), fmt: fmtBytes },
    { group: 'one byte changed, file re-written', measure: 're-write time', unit: 's', better: 'lower', ours: md('basefs', (d) => d.edit.writeMs), theirs: md('hyperdrive', (d) => d.edit.writeMs), fmt: fmtSec },
    { group: '', measure: 'bytes stored by the re-write', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.edit.storedLogical), theirs: md('hyperdrive', (d) => d.edit.storedLogical), fmt: fmtBytes },
    { group: '', measure: 'bytes on the wire to the second node', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.edit.wire), theirs: md('hyperdrive', (d) => d.edit.wire), fmt: fmtBytes },
    { group: '', measure: 'time until the second node has it', unit: 's', better: 'lower', ours: md('basefs', (d) => d.edit.fetchMs), theirs: md('hyperdrive', (d) => d.edit.fetchMs), fmt: fmtSec },
  ];
  if (drive.hyperdrive.every((d) => d.editDedup)) {
    const lab = 'Hyperdrive with `createWriteStream(path, {dedup: true})`';
    rows.push(
      { group: 'same, Hyperdrive dedup option', measure: 're-write time', unit: 's', better: 'lower', ours: md('basefs', (d) => d.edit.writeMs), theirs: md('hyperdrive', (d) => d.editDedup!.writeMs), theirsLabel: lab, fmt: fmtSec },
      { group: '', measure: 'bytes stored by the re-write', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.edit.storedLogical), theirs: md('hyperdrive', (d) => d.editDedup!.storedLogical), theirsLabel: lab, fmt: fmtBytes },
      { group: '', measure: 'bytes on the wire to the second node', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.edit.wire), theirs: md('hyperdrive', (d) => d.editDedup!.wire), theirsLabel: lab, fmt: fmtBytes },
      { group: '', measure: 'time until the second node has it', unit: 's', better: 'lower', ours: md('basefs', (d) => d.edit.fetchMs), theirs: md('hyperdrive', (d) => d.editDedup!.fetchMs), theirsLabel: lab, fmt: fmtSec },
      { group: 'one byte inserted, file re-written (Hyperdrive dedup option)', measure: 'bytes stored by the re-write', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.insert.storedLogical), theirs: md('hyperdrive', (d) => d.insert.storedLogical), theirsLabel: lab, fmt: fmtBytes },
      { group: '', measure: 'bytes on the wire to the second node', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.insert.wire), theirs: md('hyperdrive', (d) => d.insert.wire), theirsLabel: lab, fmt: fmtBytes },
      { group: '', measure: 'time until the second node has it', unit: 's', better: 'lower', ours: md('basefs', (d) => d.insert.fetchMs), theirs: md('hyperdrive', (d) => d.insert.fetchMs), theirsLabel: lab, fmt: fmtSec },
    );
  }
  rows.push(
    { group: `replication of the whole drive (${fmtBytes(smallBytes + w.largeBytes)})`, measure: 'time until the second node has everything', unit: 's', better: 'lower', ours: md('basefs', (d) => d.replMs), theirs: md('hyperdrive', (d) => d.replMs), fmt: fmtSec },
    { group: '', measure: 'bytes on the wire (both directions)', unit: 'bytes', better: 'lower', ours: md('basefs', (d) => d.replWire), theirs: md('hyperdrive', (d) => d.replWire), fmt: fmtBytes },
    { group: `cold open, ${w.coldFiles.toLocaleString('en')} files (fresh process)`, measure: 'open + read one file', unit: 's', better: 'lower', ours: mc('basefs', (c) => c.firstReadMs), theirs: mc('hyperdrive', (c) => c.firstReadMs), fmt: fmtSec },
    { group: '', measure: 'open + list every file', unit: 's', better: 'lower', ours: mc('basefs', (c) => c.listMs), theirs: mc('hyperdrive', (c) => c.listMs), fmt: fmtSec },
    { group: '', measure: 'resident memory after the listing', unit: 'MB', better: 'lower', ours: mc('basefs', (c) => c.rssMb), theirs: mc('hyperdrive', (c) => c.rssMb), fmt: (v) => `${Math.round(v)} MB` },
  );

  const bars: Bar[] = [];
  let lastGroup = '';
  for (const r of rows) {
    if (r.group) lastGroup = r.group;
    bars.push({ label: `${shortGroup(lastGroup)}: ${r.measure}`, ratio: ratioOf(r) });
  }
  const scaleNote = scale === 1 ? 'full size' : `BENCH_PEERS_SCALE=${scale}`;
  mkdirSync(dirname(SVG_PATH), { recursive: true });
  writeFileSync(SVG_PATH, renderSvg(bars, `basefs vs Hyperdrive ${versions.hyperdrive}: median ratio (> 1 = basefs better), ${scaleNote}, ${rounds} round${rounds > 1 ? 's' : ''}, ${data.date.slice(0, 10)}`));

  const cmd = `${scale !== 1 ? `BENCH_PEERS_SCALE=${scale} ` : ''}${rounds !== 3 ? `BENCH_PEERS_ROUNDS=${rounds} ` : ''}npm run bench -- --peers`;
  const out: string[] = [
    `## Hyperdrive comparison (${scaleNote}, ${rounds} round${rounds > 1 ? 's' : ''}, medians)`,
    '',
    `Command: \`${cmd}\` (or \`node bench/peers.ts\` with the same variables). Hyperdrive ${versions.hyperdrive}, Corestore ${versions.corestore}, Hypercore ${versions.hypercore}, from bench/peers/package-lock.json. Total time ${fmtSec(data.totalMs)}.`,
    '',
    'Ratio > 1 means basefs is better (faster, or fewer bytes); 1.5 is the goal. Workloads, setup and analysis: [docs/BENCH-PEERS.md](docs/BENCH-PEERS.md); plot: [docs/bench-peers.svg](docs/bench-peers.svg).',
    '',
    '| workload | measure | basefs | Hyperdrive | ratio | >= 1.5 |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const x = ratioOf(r);
    const f = (v: number) => (Number.isFinite(v) ? r.fmt(v) : 'failed');
    out.push(`| ${r.group} | ${r.measure} | ${f(r.ours)} | ${f(r.theirs)} | ${fmtRatio(x)} | ${Number.isFinite(x) ? (x >= 1.5 ? 'yes' : '**no**') : 'n/a'} |`);
  }
  const repl = drive.basefs.map((d) => d.replConnections);
  const runs = drive.basefs.map((d) => d.replAttempts);
  const notes: string[] = [];
  if (runs.some((n) => n > 1)) notes.push(`\`basefs get\` (resumable) had to be run ${runs.join(', ')} time(s) in the ${rounds} round(s) before every file was complete (the first run left ${drive.basefs.map((d) => d.replIncompleteFirst).join(', ')} file(s) incomplete); the replication time and bytes include every run and the 1 s pause before each rerun.`);
  const limited = drive.basefs.map((d) => d.replServer?.rateLimited ?? 0);
  if (limited.some((n) => n > 0)) notes.push(`During replication the first basefs node's rate limiter refused ${limited.join(', ')} chunk-stream request(s) from the second node (per round, over all runs of \`basefs get\`): \`get\` opens a chunk stream per file (two for a file whose chunk list is not yet local), and the limiter allows 50 streams/s per peer after a burst of 200.`);
  const dup = drive.basefs.filter((d) => d.edit.contentIn !== undefined && d.edit.contentIn > 1.5 * d.edit.storedLogical);
  if (dup.length) notes.push(`In ${dup.length} of ${rounds} round(s) the second basefs node's content fetcher received about twice the new chunk bytes of the edit (${dup.map((d) => `${fmtBytes(d.edit.contentIn!)} for ${fmtBytes(d.edit.storedLogical)}`).join('; ')}): the same file's missing chunks were fetched twice (see docs/BENCH-PEERS.md).`);
  for (const s of systems) drive[s].forEach((d, i) => { for (const e of d.errors) notes.push(`${s}, round ${i + 1}: ${e}`); });
  if (drive.basefs.some((d) => d.replFailed)) notes.push('Where basefs replication failed, the second node went on to run as a node and may still have been fetching missing content during the edit measurements.');
  if (notes.length) out.push('', ...notes.map((n) => `- ${n}`));
  out.push(
    '',
    `Durability: basefs fdatasyncs content and log before a write is acknowledged; Hyperdrive's storage (RocksDB via hypercore-storage) writes its WAL without fsync (sync = false), so an acknowledged put survives a process crash but not a power loss. Replication goes through a byte-counting TCP proxy in the second node's process (basefs: ${Math.max(...repl, 0)} TCP connection(s) through it; Hyperdrive: ${Math.max(...drive.hyperdrive.map((d) => d.replConnections), 0)}). Cold-open drives were built once per system (basefs ${fmtSec(build.basefs.buildMs)}, ${fmtBytes(build.basefs.disk)} on disk; Hyperdrive ${fmtSec(build.hyperdrive.buildMs)}, ${fmtBytes(build.hyperdrive.disk)}).`,
    '',
    'Per round (basefs / Hyperdrive; the load average is the machine\'s, other work included, around each drive job):',
    '',
    '| round | small write | small read | large write | large read | replication | edit: stored / sent | cold read / list | load avg before, after |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (let r = 0; r < rounds; r++) {
    const b = drive.basefs[r];
    const h = drive.hyperdrive[r];
    const cb = cold.basefs[r];
    const ch = cold.hyperdrive[r];
    const fmtSec = (ms: number) => (Number.isFinite(ms) ? fmtSecRaw(ms) : 'failed');
    out.push(`| ${r + 1} | ${fmtSec(b.smallWriteMs)} / ${fmtSec(h.smallWriteMs)} | ${fmtSec(b.smallReadMs)} / ${fmtSec(h.smallReadMs)} | ${fmtSec(b.largeWriteMs)} / ${fmtSec(h.largeWriteMs)} | ${fmtSec(b.largeReadMs)} / ${fmtSec(h.largeReadMs)} | ${fmtSec(b.replMs)} / ${fmtSec(h.replMs)} | ${fmtBytes(b.edit.storedLogical)}, ${fmtBytes(b.edit.wire)} / ${fmtBytes(h.edit.storedLogical)}, ${fmtBytes(h.edit.wire)} | ${fmtSec(cb.firstReadMs)}, ${fmtSec(cb.listMs)} / ${fmtSec(ch.firstReadMs)}, ${fmtSec(ch.listMs)} | ${fmtLoad(b.load)} / ${fmtLoad(h.load)} |`);
  }
  out.push('');
  const section = out.join('\n');
  // The same section goes into docs/BENCH-PEERS.md between its markers (links made relative).
  if (existsSync(DOC_PATH)) {
    const doc = readFileSync(DOC_PATH, 'utf8');
    const a = doc.indexOf(DOC_START);
    const b = doc.indexOf(DOC_END);
    if (a >= 0 && b > a) {
      const body = section.replace(/^## (.*)\n/, (_m, t: string) => `### ${t}\n\nRun of ${data.date} on ${data.machine}.\n`).replaceAll('(docs/', '(');
      writeFileSync(DOC_PATH, doc.slice(0, a + DOC_START.length) + '\n' + body + '\n' + doc.slice(b));
    }
  }
  return section;
}

function machine(): string {
  return `${cpus().length} x ${cpus()[0]?.model?.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.versions.node}`;
}

function fmtLoad(l?: number[]): string {
  return l ? l.map((x) => x.toFixed(1)).join(', ') : '-';
}

function shortGroup(g: string): string {
  if (g.includes('small files')) return 'small files';
  if (g.startsWith('one byte inserted')) return 'insert vs dedup';
  if (g.startsWith('one byte')) return 'edit';
  if (g.startsWith('same, Hyperdrive dedup')) return 'edit vs dedup';
  if (g.startsWith('one ')) return 'large file';
  if (g.startsWith('replication')) return 'replication';
  if (g === 'disk used') return 'disk used';
  if (g.startsWith('cold open')) return 'cold open';
  return g;
}

// ---------------------------------------------------------------- entry points

if (process.argv[2] === '--worker') {
  await workerMain(JSON.parse(process.argv[3]));
} else if (process.argv[2] === '--render') {
  console.log(renderReport(JSON.parse(readFileSync(process.argv[3], 'utf8')) as RunData));
} else if (process.argv[2] === '--peer') {
  await peerMain(process.argv[3] as SystemName, process.argv[4]);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runPeersBench());
}

// The cold-open rows alone (BENCH_PEERS_COLD_ONLY).
function renderCold(data: RunData): string {
  const { cold, build, rounds, scale } = data;
  const med = (s: SystemName, f: (c: ColdResult) => number) => median(cold[s].map(f));
  const row = (what: string, f: (c: ColdResult) => number, fmt: (x: number) => string, lowerBetter = true) => {
    const a = med('basefs', f);
    const b = med('hyperdrive', f);
    return `| ${what} | ${fmt(a)} | ${fmt(b)} | ${(lowerBetter ? b / a : a / b).toFixed(2)}x |`;
  };
  return [
    `### Cold open only (BENCH_PEERS_COLD_ONLY=1${scale !== 1 ? `, BENCH_PEERS_SCALE=${scale}` : ''}), ${data.date}`,
    '',
    `Machine: ${data.machine}. ${rounds} rounds, medians; a fresh process per open; load average before/after each open: ${cold.basefs.map((c, i) => `basefs ${c.load?.map((x) => x.toFixed(1)).join('/') ?? '?'}, hyperdrive ${cold.hyperdrive[i]?.load?.map((x) => x.toFixed(1)).join('/') ?? '?'}`).join('; ')}. Drives built once (basefs ${fmtSec(build.basefs.buildMs)}, Hyperdrive ${fmtSec(build.hyperdrive.buildMs)}).`,
    '',
    '| measure | basefs | Hyperdrive | ratio (> 1: basefs better) |',
    '|---|---|---|---|',
    row('open + read one file', (c) => c.firstReadMs, fmtSec),
    row('open + list every file', (c) => c.listMs, fmtSec),
    row('resident memory after the listing', (c) => c.rssMb, (x) => `${x} MB`),
    '',
  ].join('\n');
}
