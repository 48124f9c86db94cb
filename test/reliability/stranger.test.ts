// A stranger must not cost a node anything unbounded: three real nodes in network namespaces
// (the victim and an honest peer run `basefs run`; the stranger is a libp2p peer of the
// cluster with no grant, test/reliability/fixtures/stranger-flood.ts). While the stranger
// floods the victim over sync and gossip, the victim's log, memory and disk stay within fixed
// budgets, an honest write still arrives, and a restart afterwards is quick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, netnsUnavailable, waitFor } from '../../harness/netns.ts';
import { callControl } from '../../src/node/control.ts';
import { controlSocketPath, fsDir } from '../../src/node/datadir.ts';
import { Recorder, LONG } from './lib/results.ts';

const rec = new Recorder(import.meta.url);
const skip = netnsUnavailable();
const FLOOD = fileURLToPath(new URL('./fixtures/stranger-flood.ts', import.meta.url));
const MiB = 1024 * 1024;
const BUDGET = 64 * MiB; // growth of the victim's RSS and of its data directory
// The launcher gives V8 a young generation of 2 x 32 MiB (bin/basefs, --max-semi-space-size):
// any allocation-heavy minute commits it, flood or not, and a full collection keeps it.
const YOUNG_GEN = 64 * MiB;

function du(dir: string): number {
  let n = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) n += du(p);
    else if (d.isFile()) n += statSync(p).size;
  }
  return n;
}

interface Res { rss: number; heapUsed: number; external: number; entries: number; parked: number; node: { counters: Record<string, number> } | null }
interface Status { fsId: string; entries: number; parked: number; parkedBytes: number; refused: { total: number; kept: number; authors: number }; viewDigest: string; running: boolean }

test('a stranger flooding over sync and gossip costs the victim a bounded amount; honest work goes on', { skip: skip ?? false, timeout: 1_200_000 }, async (t) => {
  const c = new Cluster('floodfs');
  let failed = true;
  t.after(async () => {
    if (failed) for (let i = 1; i <= 3; i++) process.stdout.write(`# ---- node${i} output (tail) ----\n${c.output(i).split('\n').slice(-12).map((l) => '# ' + l).join('\n')}\n`);
    await c.cleanup();
  });
  const call = (i: number, m: string, p: unknown[] = []) => callControl(controlSocketPath(c.home(i), c.name), m, p, 30_000);
  const status = async (i: number) => (await call(i, 'status')) as Status;
  const res = async (i: number, gc = false) => (await call(i, 'resources', [gc])) as Res;
  const has = async (i: number, path: string, text: string) => {
    try {
      const r = (await call(i, 'cat', [path])) as { data: string };
      return Buffer.from(r.data, 'base64').toString('utf8') === text;
    } catch {
      return false;
    }
  };
  // latency of a write on node 2 until node 1 shows it
  const honestWrite = async (path: string) => {
    const text = `honest ${path} ${Date.now()}\n`;
    const t0 = Date.now();
    c.mustCli(2, ['write', `${c.name}:${path}`], { input: text });
    await waitFor(`${path} to reach the victim`, () => has(1, path, text), 120_000, 100);
    return Date.now() - t0;
  };

  c.setupBridge();
  for (let i = 1; i <= 3; i++) c.addNode(i);
  c.mustCli(1, ['genkey']);
  c.mustCli(1, ['bootstrap', c.name, '-i', c.addr(1)]);
  copyFileSync(join(c.home(1), 'id_ed25519'), join(c.home(2), 'id_ed25519'));
  const start1 = Date.now();
  // --expose-gc: resources(true) then measures what is retained (see NodeApi.resources)
  c.start(1, undefined, { NODE_OPTIONS: '--expose-gc' });
  await waitFor('victim to answer', async () => (await status(1)).running, 60_000);
  const firstStartMs = Date.now() - start1;
  const fsId = (await status(1)).fsId;
  for (const i of [2, 3]) c.mustCli(i, ['get', c.name, c.addr(1), '--id', fsId]);
  c.start(2);
  await waitFor('honest peer to answer', async () => (await status(2)).running, 60_000);
  const quietMs = await honestWrite('/quiet.txt');

  const before = { res: await res(1, true), st: await status(1), disk: du(fsDir(c.home(1), c.name)) };
  const seconds = LONG ? 600 : 40;
  c.startScript(3, FLOOD, [c.home(3), c.name, c.addr(1), String(seconds)]);
  await waitFor('the flood to start', () => /FLOOD \{/.test(c.output(3)), 60_000);
  // an honest write in the middle of the flood
  await waitFor('the flood to be under way', () => {
    const m = [...c.output(3).matchAll(/FLOOD (\{.*\})/g)].pop();
    return m ? JSON.parse(m[1]).syncEntries >= 2000 : false;
  }, 120_000, 250);
  const floodMs = await honestWrite('/during-flood.txt');
  let peakRss = 0;
  await waitFor('the flood to end', async () => {
    peakRss = Math.max(peakRss, (await res(1)).rss);
    return /FLOOD DONE/.test(c.output(3));
  }, (seconds + 240) * 1000, 500);
  const done = JSON.parse(c.output(3).match(/FLOOD DONE (\{.*\})/)![1]);
  const after = { res: await res(1, true), st: await status(1), disk: du(fsDir(c.home(1), c.name)) };
  peakRss = Math.max(peakRss, after.res.rss);

  // the log holds only the honest entries
  assert.equal(after.st.entries, before.st.entries + 1, 'only the honest write entered the log');
  assert.ok(after.st.refused.total > 0, `the victim refused the stranger's entries: ${JSON.stringify(after.st.refused)}`);
  assert.ok(after.st.refused.kept <= 512, 'the audit trail is bounded');
  // Retained memory: measured after a full collection on both sides (the young generation alone
  // may hold tens of MiB of garbage at any moment; peakRss is reported, not asserted).
  const rssGrowth = after.res.rss - before.res.rss;
  const heapGrowth = after.res.heapUsed + after.res.external - before.res.heapUsed - before.res.external;
  const diskGrowth = after.disk - before.disk;
  assert.ok(heapGrowth < BUDGET / 4, `victim heap + external memory (after GC) grew by ${(heapGrowth / MiB).toFixed(1)} MiB`);
  assert.ok(rssGrowth < BUDGET + YOUNG_GEN, `victim RSS (after GC) grew by ${(rssGrowth / MiB).toFixed(1)} MiB`);
  assert.ok(diskGrowth < BUDGET, `victim data grew by ${(diskGrowth / MiB).toFixed(1)} MiB`);
  assert.ok(after.st.parkedBytes <= 32 * MiB, `parked ${after.st.parkedBytes} bytes`);
  // the honest peer and the victim agree
  await waitFor('victim and honest peer to agree', async () => (await status(1)).viewDigest === (await status(2)).viewDigest, 120_000, 300);

  // a restart takes about as long as the first start
  await c.stop(1);
  const t1 = Date.now();
  c.start(1);
  await waitFor('victim to answer after a restart', async () => (await status(1)).running, 120_000);
  const restartMs = Date.now() - t1;
  const st2 = await status(1);
  assert.equal(st2.entries, after.st.entries);
  await honestWrite('/after-restart.txt');

  const sent = `${done.syncEntries} chained stranger entries (${(done.syncBytes / MiB).toFixed(0)} MiB) offered to sync, ${done.gossip + done.orphans} gossip messages (${(done.gossipBytes / MiB).toFixed(0)} MiB, ${done.orphans} of them orphans) in ${seconds} s`;
  rec.row({ section: 'forged', what: `stranger flood over sync and gossip against a basefs run node: ${sent}`, cases: 1,
    outcome: `log +0 stranger entries (refused ${after.st.refused.total}, ${after.st.refused.kept} audit records); RSS after GC ${(before.res.rss / MiB).toFixed(0)} -> ${(after.res.rss / MiB).toFixed(0)} MiB (peak sampled ${(peakRss / MiB).toFixed(0)}), heap + external after GC ${((before.res.heapUsed + before.res.external) / MiB).toFixed(0)} -> ${((after.res.heapUsed + after.res.external) / MiB).toFixed(0)} MiB; data dir ${(before.disk / MiB).toFixed(1)} -> ${(after.disk / MiB).toFixed(1)} MiB; parked ${after.st.parked} (${(after.st.parkedBytes / MiB).toFixed(1)} MiB); honest write latency ${quietMs} ms quiet, ${floodMs} ms during the flood; start ${firstStartMs} ms, restart after the flood ${restartMs} ms`,
    ok: true });
  failed = false;
});
