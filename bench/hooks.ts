// Hook latency (issue 18): time from a write on one node to the start of a hook on each of
// the others, on a 5-node cluster, every node a `basefs run -f` process in its own network
// namespace (needs root). The start is the time the node records for the run (just before it
// spawns the command, after the debounce and the wait for the content); the write's time is
// when the writer applied it (BASEFS_TRACE_APPLIED trace line). Nothing polls the nodes while
// they work: their hook lists are read after each write has run everywhere.
// Runnable directly: node bench/hooks.ts   (BENCH_HOOK_WRITES=samples, BENCH_HOOK_DEBOUNCE=ms)
import { copyFileSync, cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { callControl } from '../src/node/control.ts';
import { controlSocketPath } from '../src/node/datadir.ts';
import { Cluster, netnsUnavailable, waitFor } from '../harness/netns.ts';

const WRITES = Number(process.env.BENCH_HOOK_WRITES ?? 30);
const DEBOUNCE = Number(process.env.BENCH_HOOK_DEBOUNCE ?? 100);
const N = 5;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

export async function runHooksBench(): Promise<string> {
  const skip = netnsUnavailable();
  if (skip) return `## Hooks\n\nSkipped: ${skip}.\n`;
  const c = new Cluster('hookbench', 140);
  try {
    c.setupBridge();
    for (let i = 1; i <= N; i++) c.addNode(i);
    c.mustCli(1, ['genkey']);
    c.mustCli(1, ['bootstrap', c.name, '-i', c.addr(1)]);
    c.mustCli(1, ['mkdir', '-p', `${c.name}:/etc/app`]);
    for (let i = 2; i <= N; i++) {
      copyFileSync(join(c.home(1), 'id_ed25519'), join(c.home(i), 'id_ed25519'));
      mkdirSync(join(c.home(i), 'fs'), { recursive: true });
      cpSync(join(c.home(1), 'fs', c.name), join(c.home(i), 'fs', c.name), { recursive: true });
      c.mustCli(i, ['hook', 'add', `${c.name}:/etc/app`, '--name', 'app', '--debounce', String(DEBOUNCE), '--', 'true']);
    }
    for (let i = 1; i <= N; i++) c.start(i, ['run', c.name, '-f'], { BASEFS_TRACE_APPLIED: '1' });
    const call = (i: number, m: string, p: unknown[] = []) => callControl(controlSocketPath(c.home(i), c.name), m, p, 30_000);
    await waitFor('all nodes connected to all others', async () => {
      const st = (await Promise.all(Array.from({ length: N }, (_, k) => call(k + 1, 'status').catch(() => null)))) as ({ members: { connected: boolean }[] } | null)[];
      return st.every((s) => s && s.members.filter((m) => m.connected).length >= N - 1);
    }, 90_000, 500);
    await new Promise((r) => setTimeout(r, 3000)); // a few gossipsub heartbeats: meshes formed
    const lastStart = async (i: number) => {
      const [h] = (await call(i, 'hookList')) as { last: { at: string; status: string } | null }[];
      return h.last ? Date.parse(h.last.at) : 0;
    };
    const lat: number[] = [];
    for (let k = 0; k < WRITES; k++) {
      const before = await Promise.all(Array.from({ length: N - 1 }, (_, j) => lastStart(j + 2)));
      await call(1, 'write', ['/etc/app/conf', { base64: Buffer.from(`v${k}\n`).toString('base64') }]);
      const starts = await waitFor(`write ${k} to run the hook on every other node`, async () => {
        const s = await Promise.all(Array.from({ length: N - 1 }, (_, j) => lastStart(j + 2)));
        return s.every((x, j) => x > before[j]) ? s : null;
      }, 60_000, 100);
      const t0 = lastApplied(c.output(1), '/etc/app/conf');
      if (t0 === null) throw new Error('no trace line of the write on node 1');
      for (const s of starts!) lat.push(s - t0);
      await new Promise((r) => setTimeout(r, 300));
    }
    lat.sort((a, b) => a - b);
    return [
      '## Hooks',
      '',
      `Time from a write on node 1 to the start of a hook on each of the ${N - 1} other nodes of a ${N}-node cluster (each node a \`basefs run -f\` process in its own network namespace), hook debounce ${DEBOUNCE} ms: from the writer's apply trace (\`BASEFS_TRACE_APPLIED=1\`) to the run's recorded start (after the debounce and the wait for the content, just before the command is spawned). Command: \`node bench/hooks.ts\`.`,
      '',
      '| nodes | writes | samples | p50 | max | p50 beyond the debounce |',
      '|---:|---:|---:|---:|---:|---:|',
      `| ${N} | ${WRITES} | ${lat.length} | ${pct(lat, 0.5)} ms | ${lat[lat.length - 1]} ms | ${pct(lat, 0.5) - DEBOUNCE} ms |`,
      '',
      'Goal: p50 < 200 ms beyond the debounce.',
      '',
    ].join('\n');
  } finally {
    await c.cleanup();
  }
}

// The newest trace time of a path in a node's output (a path written again and again).
function lastApplied(out: string, path: string): number | null {
  let t: number | null = null;
  for (const line of out.split('\n')) {
    if (!line.startsWith('{"bfsApplied"')) continue;
    try {
      const r = JSON.parse(line) as { path: string; t: number };
      if (r.path === path) t = r.t;
    } catch { /* partial line */ }
  }
  return t;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await runHooksBench());
}
