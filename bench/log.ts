import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, signBytes, verifyBytes } from '../src/crypto/keys.ts';
import { createEntry, verifyEntry } from '../src/log/sign.ts';
import { decodeEntry } from '../src/log/codec.ts';
import { Kind, type Entry } from '../src/log/entry.ts';
import { Dag } from '../src/log/dag.ts';
import { Filesystem } from '../src/node/filesystem.ts';
import { LogStore } from '../src/storage/logstore.ts';

const N = Number(process.env.BENCH_LOG_N ?? 100_000);

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

// Append = sign + hash + store (durable, group-committed in batches of concurrent appends);
// ingest = decode + verify + store. Raw node:crypto rates are measured in the same run.
export async function runLogBench(): Promise<string> {
  const kp = generateKeyPair();
  const msg = new Uint8Array(150);
  let t = performance.now();
  const sigs: Uint8Array[] = [];
  for (let i = 0; i < 20000; i++) sigs.push(signBytes(kp.privateKey, msg));
  const rawSign = rate(20000, performance.now() - t);
  t = performance.now();
  for (let i = 0; i < 20000; i++) verifyBytes(kp.publicKey, msg, sigs[i]);
  const rawVerify = rate(20000, performance.now() - t);

  const dir = mkdtempSync(join(tmpdir(), 'basefs-bench-log-'));
  try {
    const store = await LogStore.open(join(dir, 'a'));
    const dag = new Dag();
    const boot = createEntry(kp, { kind: Kind.BOOTSTRAP, path: '/', name: 'bench' });
    dag.add(boot);
    await store.append([boot], [boot.id]);
    const entries: Entry[] = [boot];
    t = performance.now();
    let pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const e = createEntry(kp, { kind: Kind.MKDIR, path: `/d${i % 1000}/f${i}`, fsId: dag.fsId!, deps: dag.headIds() });
      dag.add(e);
      entries.push(e);
      pending.push(store.append([e], [e.id]));
      if (pending.length >= 256) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    const appendRate = rate(N, performance.now() - t);
    await store.close();

    // The public path: Filesystem.commit, one writer after another (what the CLI and the
    // control socket do), each acknowledged only once durable.
    const home = join(dir, 'home');
    const fsys = await Filesystem.create(home, 'benchpub', kp, []);
    const M = Math.min(N, 2000);
    t = performance.now();
    for (let i = 0; i < M; i++) await fsys.mkdir(`/p${i}`);
    const commitRate = rate(M, performance.now() - t);
    // 16 concurrent writers through the same API: they share synced batches (group commit).
    const b0 = { ...fsys.log.stats };
    t = performance.now();
    await Promise.all(Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < M; i += 16) await fsys.mkdir(`/q${i}`);
    }));
    const concurrentRate = rate(M, performance.now() - t);
    const perBatch = (fsys.log.stats.appends - b0.appends) / (fsys.log.stats.batches - b0.batches);
    await fsys.close();

    const store2 = await LogStore.open(join(dir, 'b'));
    const dag2 = new Dag();
    const wire = entries.map((e) => e.bytes);
    t = performance.now();
    for (let i = 0; i < wire.length; i += 1000) {
      const batch: Entry[] = [];
      for (const b of wire.slice(i, i + 1000)) {
        const e = decodeEntry(b);
        if (!verifyEntry(e)) throw new Error('verify failed');
        const r = dag2.add(e);
        if (r.status === 'applied') for (const n of r.applied) batch.push(n.entry);
      }
      await store2.append(batch, dag2.headIds());
    }
    const ingestRate = rate(wire.length, performance.now() - t);
    await store2.close();
    const pa = Math.round((appendRate / rawSign) * 100);
    const pi = Math.round((ingestRate / rawVerify) * 100);
    return [
      `## Log: append and ingest (${N.toLocaleString('en')} small entries)`,
      '',
      '| measure | entries/s | raw node:crypto | ratio | goal |',
      '|---|---|---|---|---|',
      `| append through LogStore.append, 256 in flight (sign + hash + durable store; no public API reaches this) | ${appendRate} | sign ${rawSign}/s | ${pa}% | >= 50% ${pa >= 50 ? 'met' : 'NOT met'} |`,
      `| Filesystem.commit (mkdir), one after another, each durable before the next (the CLI/control-socket path) | ${commitRate} | sign ${rawSign}/s | ${Math.round((commitRate / rawSign) * 100)}% | - |`,
      `| Filesystem.commit (mkdir), 16 concurrent writers, each waits for its own durability (control socket / FUSE with many clients) | ${concurrentRate} (${(concurrentRate / commitRate).toFixed(1)}x one writer; ${perBatch.toFixed(1)} commits per synced batch) | sign ${rawSign}/s | ${Math.round((concurrentRate / rawSign) * 100)}% | >= 5x one writer ${concurrentRate >= 5 * commitRate ? 'met' : 'NOT met'} |`,
      `| ingest (decode + verify + durable store) | ${ingestRate} | verify ${rawVerify}/s | ${pi}% | >= 50% ${pi >= 50 ? 'met' : 'NOT met'} |`,
      '',
      'LogStore appends are issued 256 at a time and group-committed (one synced LevelDB batch per group); Filesystem.commit releases its mutex before waiting for the disk, so concurrent commits share synced batches; one writer that waits for each commit still gets one sync per entry (2,000 commits); ingest stores batches of 1000.',
      '',
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await runLogBench());
