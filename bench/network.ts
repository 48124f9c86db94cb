// Network benchmarks (docs/NETWORK.md quotes them):
//   1. write-to-visible-everywhere latency on 5- and 10-node clusters, every node a
//      `basefs run -f` process in its own network namespace (needs root; skipped otherwise);
//   2. bytes exchanged by anti-entropy when two 100k-entry logs differ by one entry;
//   3. `basefs get` of a 100k-entry log, in entries/s (over loopback TCP).
// Runnable directly: node bench/network.ts   (BENCH_NET_N=entries, BENCH_NET_WRITES=samples)
import { cpSync, mkdtempSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { Filesystem } from '../src/node/filesystem.ts';
import { callControl } from '../src/node/control.ts';
import { controlSocketPath } from '../src/node/datadir.ts';
import { Kind, type Entry } from '../src/log/entry.ts';
import { createEntry } from '../src/log/sign.ts';
import type { KeyPair } from '../src/crypto/keys.ts';
import { FramedStream } from '../src/network/frame.ts';
import { NET_LIMITS } from '../src/network/messages.ts';
import { ArrivalIndex } from '../src/network/reconcile.ts';
import { pullSession, serveSession } from '../src/network/sync.ts';
import { channelPair } from '../harness/pair.ts';
import { Cluster, netnsUnavailable, waitFor, BIN } from '../harness/netns.ts';

const N = Number(process.env.BENCH_NET_N ?? 100_000);
const WRITES = Number(process.env.BENCH_NET_WRITES ?? 30);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

// ---- 1. latency on namespace clusters ----

async function clusterLatency(n: number): Promise<{ n: number; p50: number; p90: number; max: number; p50Commit: number; samples: number; setupS: number; conn: string }> {
  const t0 = performance.now();
  const c = new Cluster('benchfs', 120 + n);
  try {
    c.setupBridge();
    for (let i = 1; i <= n; i++) c.addNode(i);
    c.cli(1, ['genkey']);
    const r = c.cli(1, ['bootstrap', c.name, '-i', c.addr(1)]);
    if (r.code !== 0) throw new Error(r.stderr);
    for (let i = 2; i <= n; i++) {
      copyFileSync(join(c.home(1), 'id_ed25519'), join(c.home(i), 'id_ed25519'));
      mkdirSync(join(c.home(i), 'fs'), { recursive: true });
      cpSync(join(c.home(1), 'fs', c.name), join(c.home(i), 'fs', c.name), { recursive: true });
    }
    for (let i = 1; i <= n; i++) c.start(i, ['run', c.name, '-f'], { BASEFS_TRACE_APPLIED: '1' });
    const call = (i: number, m: string, p: unknown[] = []) => callControl(controlSocketPath(c.home(i), c.name), m, p, 30_000);
    let last = '';
    const connectedCounts = async () => {
      const st = await Promise.all(Array.from({ length: n }, (_, k) => call(k + 1, 'status').catch(() => null))) as ({ members: { connected: boolean }[] } | null)[];
      return st.map((s) => (s ? s.members.filter((m) => m.connected).length : -1));
    };
    // full mesh expected (mDNS); settle for everyone having half the others after a minute
    const full = await waitFor('all nodes connected to all others', async () => {
      const k = await connectedCounts();
      last = k.join(', ');
      return k.every((x) => x >= n - 1);
    }, 60_000, 500).catch(() => false);
    if (!full) {
      await waitFor('nodes connected', async () => {
        const k = await connectedCounts();
        last = k.join(', ');
        return k.every((x) => x >= Math.ceil((n - 1) / 2));
      }, 60_000, 500).catch((e) => {
        throw new Error(`${(e as Error).message}; connected members per node: ${last}`);
      });
    }
    await new Promise((r) => setTimeout(r, 3000)); // a few gossipsub heartbeats: meshes formed
    const setupS = (performance.now() - t0) / 1000;
    // Every node prints a trace line with the wall clock when it applies an entry
    // (BASEFS_TRACE_APPLIED): latency = last node's apply time - the writer's own apply
    // (commit) time. Nothing polls the nodes while they work.
    const applied = (i: number, path: string): number | null => {
      for (const line of c.output(i).split('\n')) {
        if (!line.startsWith('{"bfsApplied"')) continue;
        try {
          const r = JSON.parse(line) as { path: string; t: number };
          if (r.path === path) return r.t;
        } catch { /* partial line */ }
      }
      return null;
    };
    const lat: number[] = [];
    const latCommit: number[] = [];
    for (let k = 0; k < WRITES; k++) {
      const writer = (k % n) + 1;
      const path = `/w${k}.txt`;
      const tStart = Date.now();
      await call(writer, 'write', [path, { base64: Buffer.from(`write ${k}\n`).toString('base64') }]);
      const times = await waitFor(`write ${k} on every node`, () => {
        const t = Array.from({ length: n }, (_, j) => applied(j + 1, path));
        return t.every((x) => x !== null) ? (t as number[]) : null;
      }, 60_000, 100) as number[];
      const tCommit = times[writer - 1];
      const last = Math.max(...times);
      lat.push(last - tCommit);
      latCommit.push(last - tStart);
      await new Promise((r) => setTimeout(r, 300));
    }
    lat.sort((a, b) => a - b);
    latCommit.sort((a, b) => a - b);
    return { n, p50: pct(lat, 0.5), p90: pct(lat, 0.9), max: lat[lat.length - 1], p50Commit: pct(latCommit, 0.5), samples: lat.length, setupS, conn: last };
  } finally {
    await c.cleanup();
  }
}

// ---- 2 and 3: big logs ----

function bigLog(kp: KeyPair, name: string, n: number): { boot: Entry; entries: Entry[] } {
  const boot = createEntry(kp, { kind: Kind.BOOTSTRAP, path: '/', name, mode: 0o755, time: 1_000_000 });
  const entries: Entry[] = [];
  let prev = boot;
  for (let i = 0; i < n; i++) {
    const path = i < 100 ? `/b${i}` : `/b${i % 100}/d${i}`;
    const e = createEntry(kp, { kind: Kind.MKDIR, path, fsId: boot.id, deps: [prev.id], mode: 0o755, time: 1_000_001 + i });
    entries.push(e);
    prev = e;
  }
  return { boot, entries };
}

async function fill(home: string, name: string, items: Entry[]): Promise<Filesystem> {
  const fs = await Filesystem.open(home, name, null, { allowEmpty: true });
  for (let i = 0; i < items.length; i += 5000) await fs.ingest(items.slice(i, i + 5000).map((e) => e.bytes));
  return fs;
}

async function pullBytes(a: Filesystem, b: Filesystem): Promise<{ bytes: number; accepted: number; ms: number }> {
  const [ca, cb] = channelPair();
  const fa = new FramedStream(ca, NET_LIMITS.maxFrameBytes, 60_000);
  const fb = new FramedStream(cb, NET_LIMITS.maxFrameBytes, 60_000);
  const t = performance.now();
  const [res] = await Promise.all([pullSession(a, fa, { index: new ArrivalIndex(a.dag) }), serveSession(b, fb, { index: new ArrivalIndex(b.dag) })]);
  return { bytes: fa.bytesIn + fa.bytesOut, accepted: res.accepted, ms: performance.now() - t };
}

async function bigLogBenches(kp: KeyPair, base: string, lines: string[]): Promise<void> {
    // 2. anti-entropy bytes
    const t0 = performance.now();
    const { boot, entries } = bigLog(kp, 'bignet', N);
    const extraA = createEntry(kp, { kind: Kind.MKDIR, path: '/onlyA', fsId: boot.id, deps: [entries[entries.length - 1].id], mode: 0o755, time: 2_000_000 });
    const extraB = createEntry(kp, { kind: Kind.MKDIR, path: '/onlyB', fsId: boot.id, deps: [entries[entries.length - 1].id], mode: 0o755, time: 2_000_001 });
    const signS = (performance.now() - t0) / 1000;
    const ha = join(base, 'a');
    const hb = join(base, 'b');
    const a = await fill(ha, 'bignet', [boot, ...entries]);
    const b = await fill(hb, 'bignet', [boot, ...entries, extraB]);
    const equalish = await pullBytes(b, a); // B already has all of A: heads only
    const oneWay = await pullBytes(a, b); // A lacks one entry
    await a.ingest([extraA.bytes]);
    const aBack = await pullBytes(b, a); // B lacks one entry (A's), A has B's now
    const both = await pullBytes(a, b); // equal again
    lines.push(`### Anti-entropy between two ${N.toLocaleString('en')}-entry logs (pullSession/serveSession over an in-memory pipe in one process; stream payload bytes, both directions)`, '',
      '| case | bytes | entries moved | time |', '|---|---:|---:|---:|',
      `| puller already holds everything (heads exchange only) | ${equalish.bytes} | ${equalish.accepted} | ${equalish.ms.toFixed(1)} ms |`,
      `| puller lacks one entry | ${oneWay.bytes} | ${oneWay.accepted} | ${oneWay.ms.toFixed(1)} ms |`,
      `| puller lacks one entry, peer lacks another one (concurrent) | ${aBack.bytes} | ${aBack.accepted} | ${aBack.ms.toFixed(1)} ms |`,
      `| logs equal | ${both.bytes} | ${both.accepted} | ${both.ms.toFixed(1)} ms |`,
      '', `Goal: < 10 KB for a one-entry difference: ${Math.max(oneWay.bytes, aBack.bytes) < 10_240 ? 'met' : 'NOT met'}. (Signing the ${N.toLocaleString('en')} entries took ${signS.toFixed(1)} s.) Noise and Yamux add about 40 bytes per frame on the wire.`, '');
    await a.close();
    await b.close();

    // 3. get of the whole log over loopback TCP
    const port = 20000 + (process.pid % 20000);
    const srv = spawn(BIN, ['--data-dir', hb, 'run', 'bignet', '-f', '--port', String(port), '--host', '127.0.0.1', '--no-mdns'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let srvErr = '';
    srv.stderr.on('data', (d) => (srvErr += d));
    try {
      await waitFor('the serving node', () => callControl(controlSocketPath(hb, 'bignet'), 'status', [], 5000).then(() => true), 120_000, 300);
      const hc = join(base, 'c');
      const g = spawnSync(BIN, ['--data-dir', hc, '--json', 'get', 'bignet', `127.0.0.1:${port}`, '--yes'], { encoding: 'utf8', timeout: 900_000 });
      if (g.status !== 0) throw new Error(`get failed: ${g.stderr} ${srvErr}`);
      const s = JSON.parse(g.stdout);
      lines.push(`### \`basefs get\` of a ${(N + 2).toLocaleString('en')}-entry log (loopback TCP, every entry verified and applied)`, '',
        `${s.accepted.toLocaleString('en')} entries in ${s.seconds.toFixed(1)} s = **${Math.round(s.entriesPerSec).toLocaleString('en')} entries/s** (CLI start-up, connect, transfer, signature checks, durable log writes and view updates included).`, '');
    } finally {
      srv.kill('SIGTERM');
      await new Promise((r) => srv.once('exit', r));
    }
}

export async function runNetworkBench(): Promise<string> {
  const lines: string[] = ['## network', ''];
  const load0 = loadavg()[0].toFixed(1);
  const kp = generateKeyPair();
  const base = mkdtempSync(join(tmpdir(), 'basefs-bench-net-'));
  try {
    if (process.env.BENCH_NET_LATENCY_ONLY !== '1') await bigLogBenches(kp, base, lines);

    // 1. latency
    const why = netnsUnavailable();
    if (why) lines.push('### Write-to-visible-everywhere latency', '', `skipped: ${why}`, '');
    else {
      const rows: string[] = [];
      for (const n of [5, 10]) {
        const r = await clusterLatency(n);
        rows.push(`| ${r.n} | ${r.samples} | ${r.p50.toFixed(0)} ms | ${r.p90.toFixed(0)} ms | ${r.max.toFixed(0)} ms | ${r.p50Commit.toFixed(0)} ms | ${r.conn} |`);
      }
      lines.push('### Write-to-visible-everywhere latency (each node a `basefs run -f` process in its own network namespace, one bridge)', '',
        'Measured from the moment the writing node applied the entry (durable in its log) until the last node applied it (durable, verified, in its view), from wall-clock trace lines the nodes print (`BASEFS_TRACE_APPLIED=1`), so nothing polls the nodes. The last column starts before the control-socket `write` (chunking, fsyncs, authority check). All nodes share the machine\'s 2 cores.', '',
        '| nodes | writes | p50 | p90 | max | p50 incl. commit | peers connected per node |', '|---:|---:|---:|---:|---:|---:|---|', ...rows, '', 'Goals on 10 nodes: p50 < 100 ms, max < 1 s.', '');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  lines.push(`Load average (1 min) at start / end of this section: ${load0} / ${loadavg()[0].toFixed(1)} on ${cpus().length} cores.`, '');
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write((await runNetworkBench()) + '\n');
}
