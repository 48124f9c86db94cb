import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateKeyPair } from '../src/crypto/keys.ts';
import { createEntry } from '../src/log/sign.ts';
import { Kind, type Entry } from '../src/log/entry.ts';
import { Dag } from '../src/log/dag.ts';
import { Filesystem } from '../src/node/filesystem.ts';
import { sha256 } from '../src/crypto/hash.ts';

// Issue 15: opening a big filesystem through the stored view (what `basefs ls`/`cat` of a
// stopped filesystem do) against replaying the log (what a node does at start), each in a
// fresh process. The log is built through Filesystem.ingest, the path peers' entries take,
// so the stored view is the one a node writes.
const N = Number(process.env.BENCH_STORED_N ?? 100_000);
const NAME = 'bench';
const PROBE = '/d7/probe.txt';

async function build(home: string): Promise<{ entries: number; files: number; buildMs: number }> {
  const t = performance.now();
  const root = generateKeyPair();
  const boot = createEntry(root, { kind: Kind.BOOTSTRAP, path: '/', name: NAME });
  const dag = new Dag();
  dag.add(boot);
  const all: Entry[] = [boot];
  const add = (d: Parameters<typeof createEntry>[1]) => {
    const e = createEntry(root, { ...d, fsId: boot.id, deps: dag.headIds() });
    dag.add(e);
    all.push(e);
  };
  for (let d = 0; d < 1000; d++) add({ kind: Kind.MKDIR, path: `/d${d}`, mode: 0o755 });
  // Files rewritten now and then: 100,000 entries over 80,000 paths.
  for (let i = 0; dag.size < N - 1; i++) add({ kind: Kind.WRITE, path: `/d${i % 1000}/f${i % 80_000}`, root: sha256(Buffer.from(String(i))), size: i, mode: 0o644, mtime: i });
  const fs = await Filesystem.open(home, NAME, root, { allowEmpty: true });
  for (let i = 0; i < all.length; i += 5000) await fs.ingest(all.slice(i, i + 5000).map((e) => e.bytes));
  await fs.writeFile(PROBE, Buffer.from('the file a cold open reads\n'));
  const entries = fs.dag.size;
  let files = 0;
  for (const d of fs.state.readdir('/')) files += fs.state.readdir('/' + d).length;
  await fs.close();
  return { entries, files, buildMs: performance.now() - t };
}

interface Cold { openReadMs: number; rssMb: number; listMs?: number; listed?: number }

async function cold(home: string, mode: string): Promise<Cold> {
  const t0 = performance.now();
  const fs = await Filesystem.open(home, NAME, null, { lazy: mode !== 'replay' });
  const data = await fs.readFile(PROBE);
  if (!Buffer.from(data).toString().startsWith('the file')) throw new Error('probe content wrong');
  const openReadMs = performance.now() - t0;
  const out: Cold = { openReadMs, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) };
  if (mode === 'list') {
    let listed = 0;
    const walk = async (p: string): Promise<void> => {
      for (const n of await fs.listInodes(p)) {
        if (n.type === 'dir') await walk(n.path);
        else listed++;
      }
    };
    await walk('/');
    out.listMs = performance.now() - t0;
    out.listed = listed;
  }
  await fs.close();
  return out;
}

function fresh(home: string, mode: string): Cold {
  const r = spawnSync(process.execPath, ['--no-warnings', '--max-semi-space-size=32', new URL(import.meta.url).pathname, '--cold', home, mode], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cold open (${mode}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runStoredViewBench(): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'bench-stored-'));
  try {
    const b = await build(home);
    const rounds = 3;
    const lazy = Array.from({ length: rounds }, () => fresh(home, 'lazy'));
    const replay = Array.from({ length: rounds }, () => fresh(home, 'replay'));
    const list = fresh(home, 'list');
    const f = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
    return [
      `## Stored view: cold open (${b.entries.toLocaleString('en')} entries, ${b.files.toLocaleString('en')} files in 1,000 directories)`,
      '',
      `Built through Filesystem.ingest in batches of 5,000 (signatures verified, stored view written with the entries) in ${(b.buildMs / 1000).toFixed(1)} s. Each measure is a fresh Node process (median of ${rounds}); the page cache is warm (the log was just written). Content: the probe file's chunks are real, the other entries name content that is not stored (only metadata is read).`,
      '',
      '| measure | result | goal (issue 15) |',
      '|---|---|---|',
      `| open + read one file, stored view (\`basefs cat\` of a stopped filesystem) | ${f(median(lazy.map((x) => x.openReadMs)))} | < 50 ms ${median(lazy.map((x) => x.openReadMs)) < 50 ? 'met' : 'NOT met'} |`,
      `| resident memory after that | ${median(lazy.map((x) => x.rssMb))} MB | < 120 MB ${median(lazy.map((x) => x.rssMb)) < 120 ? 'met' : 'NOT met'} |`,
      `| open + read one file, replaying the log (what \`basefs run\` does at start) | ${f(median(replay.map((x) => x.openReadMs)))} | (a running node still replays; docs/LOG.md) |`,
      `| resident memory after that | ${median(replay.map((x) => x.rssMb))} MB | |`,
      `| open + list every file with its attributes through the stored view (one range scan per directory) | ${f(list.listMs!)} (${list.listed!.toLocaleString('en')} files) | no slower than 4.5 s ${list.listMs! <= 4500 ? 'met' : 'NOT met'} |`,
      '',
    ].join('\n');
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(home, { recursive: true, force: true }); else console.error("kept", home);
  }
}

if (process.argv[2] === '--cold') {
  console.log(JSON.stringify(await cold(process.argv[3], process.argv[4])));
} else if (process.argv[1] === new URL(import.meta.url).pathname) {
  console.log(await runStoredViewBench());
}
