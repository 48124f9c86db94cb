import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, signBytes, verifyBytes } from '../src/crypto/keys.ts';
import { createEntry, verifyEntry } from '../src/log/sign.ts';
import { decodeEntry } from '../src/log/codec.ts';
import { Kind, type Entry } from '../src/log/entry.ts';
import { Dag } from '../src/log/dag.ts';
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
      `| append (sign + hash + durable store) | ${appendRate} | sign ${rawSign}/s | ${pa}% | >= 50% ${pa >= 50 ? 'met' : 'NOT met'} |`,
      `| ingest (decode + verify + durable store) | ${ingestRate} | verify ${rawVerify}/s | ${pi}% | >= 50% ${pi >= 50 ? 'met' : 'NOT met'} |`,
      '',
      'Appends are issued 256 at a time and group-committed (one synced LevelDB batch per group); ingest stores batches of 1000.',
      '',
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await runLogBench());
