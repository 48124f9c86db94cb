import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { createEntry } from '../src/log/sign.ts';
import { Kind } from '../src/log/entry.ts';
import { Dag, type DagNode } from '../src/log/dag.ts';
import { LogStore } from '../src/storage/logstore.ts';
import { FsState } from '../src/view/state.ts';
import { sha256 } from '../src/crypto/hash.ts';

const N = Number(process.env.BENCH_VIEW_N ?? 100_000);

// A realistic log: two writers, 1000 directories, files rewritten now and then, a few grants.
export async function buildLog(dir: string): Promise<void> {
  const root = generateKeyPair();
  const other = generateKeyPair();
  const store = await LogStore.open(dir);
  const dag = new Dag();
  const boot = createEntry(root, { kind: Kind.BOOTSTRAP, path: '/', name: 'bench' });
  dag.add(boot);
  const batch = [boot];
  const add = (kp: typeof root, d: Parameters<typeof createEntry>[1]) => {
    const e = createEntry(kp, { ...d, fsId: boot.id, deps: dag.headIds() });
    dag.add(e);
    batch.push(e);
  };
  add(root, { kind: Kind.GRANT, path: '/shared', key: other.publicKey });
  add(root, { kind: Kind.MKDIR, path: '/shared', mode: 0o755 });
  for (let d = 0; d < 100; d++) add(root, { kind: Kind.MKDIR, path: `/d${d}`, mode: 0o755 });
  let i = 0;
  while (dag.size < N) {
    const kp = i % 10 === 0 ? other : root;
    const path = kp === other ? `/shared/f${i % 5000}` : `/d${i % 100}/f${i % 20000}`;
    add(kp, { kind: Kind.WRITE, path, root: sha256(Buffer.from(String(i))), size: i, mode: 0o644, mtime: i });
    i++;
    if (batch.length >= 5000) await store.append(batch.splice(0), dag.headIds());
  }
  await store.append(batch.splice(0), dag.headIds());
  await store.close();
}

async function coldOpen(dir: string): Promise<{ ms: number; rssMb: number; digest: string }> {
  const t = performance.now();
  const store = await LogStore.open(dir);
  const dag = new Dag();
  for await (const e of store.readAll()) dag.add(e);
  const state = new FsState(dag);
  const digest = state.viewDigest();
  const ms = performance.now() - t;
  await store.close();
  return { ms, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20), digest };
}

export async function runViewBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'basefs-bench-view-'));
  const load0 = loadavg()[0].toFixed(1);
  try {
    await buildLog(join(dir, 'log'));
    // Cold open in a fresh process, so memory and caches are those of a restart.
    const child = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--cold', join(dir, 'log')], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    const cold = JSON.parse(child.stdout.trim().split('\n').pop()!);
    // Incremental: apply entries one at a time to a live state.
    const store = await LogStore.open(join(dir, 'log'));
    const all = [];
    for await (const e of store.readAll()) all.push(e);
    await store.close();
    const dag = new Dag();
    dag.add(all[0]);
    const state = new FsState(dag);
    const rss0 = process.memoryUsage().rss;
    const t = performance.now();
    for (let k = 1; k < all.length; k++) {
      const r = dag.add(all[k]);
      if (r.status === 'applied') state.apply(r.applied as DagNode[]);
    }
    const incMs = performance.now() - t;
    const incRate = Math.round(((all.length - 1) / incMs) * 1000);
    const grow = Math.round((process.memoryUsage().rss - rss0) / 2 ** 20);
    return [
      `## View: cold open and incremental apply (${all.length.toLocaleString('en')} entries)`,
      '',
      '| measure | result | goal |',
      '|---|---|---|',
      `| cold open (read log + decode with ids recomputed, signatures not re-checked + materialize), fresh process | ${(cold.ms / 1000).toFixed(2)} s | < 2 s ${cold.ms < 2000 ? 'met' : 'NOT met'} |`,
      `| resident memory after cold open | ${cold.rssMb} MB | < 300 MB ${cold.rssMb < 300 ? 'met' : 'NOT met'} |`,
      `| incremental apply in one process, one entry at a time (Dag.add + FsState.apply; entries already read and decoded) | ${incRate} entries/s | >= 20k/s ${incRate >= 20000 ? 'met' : 'NOT met'} |`,
      `| resident memory growth during incremental apply (RSS; depends on when V8 collects) | ${grow} MB | - |`,
      '',
      `Same viewDigest cold and incremental: ${cold.digest === state.viewDigest() ? 'yes' : 'NO'}.`,
      '',
      `Load average (1 min) at start / end of this section: ${load0} / ${loadavg()[0].toFixed(1)} on ${cpus().length} cores.`,
      '',
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--cold') {
  console.log(JSON.stringify(await coldOpen(process.argv[3])));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runViewBench());
}
