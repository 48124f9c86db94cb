// Multi-host behaviour on real, separate network stacks: every node is a `basefs run -f`
// process in its own Linux network namespace, all linked by veth pairs to one bridge.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, netnsUnavailable, waitFor, ROOT } from '../../harness/netns.ts';
import { callControl } from '../../src/node/control.ts';
import { controlSocketPath } from '../../src/node/datadir.ts';

const skip = netnsUnavailable();
if (skip) process.stdout.write(`# skipping namespace cluster tests: ${skip}\n`);

interface Status { viewDigest: string; entries: number; heads: string[]; running: boolean; members: { peerId: string; connected: boolean }[] }

describe('cluster on network namespaces', { skip: skip ?? false, timeout: 600_000 }, () => {
  const c = new Cluster('netfs');
  const N = 3;
  let failed = false;
  let fsId = '';
  // Nodes running now: the late-node test adds node 4. Each test uses only what the shared
  // setup (before) made or what it makes itself, so every test also runs alone
  // (--test-name-pattern), as in node.test.ts.
  const nodes = [1, 2, 3];

  // Polling goes straight to each node's control socket (what the CLI does, minus its start-up);
  // writes go through the CLI.
  const call = (i: number, method: string, params: unknown[] = []) => callControl(controlSocketPath(c.home(i), c.name), method, params, 30_000);
  const status = async (i: number) => (await call(i, 'status')) as Status;
  const allEqual = async (nodes: number[]) => {
    const d = await Promise.all(nodes.map(async (i) => (await status(i)).viewDigest));
    return d.every((x) => x === d[0]) ? d[0] : null;
  };
  const write = (i: number, path: string, text: string) => c.mustCli(i, ['write', `${c.name}:${path}`], { input: text });
  const cat = async (i: number, path: string) => {
    try {
      const r = (await call(i, 'cat', [path])) as { data: string };
      return Buffer.from(r.data, 'base64').toString('utf8');
    } catch {
      return null;
    }
  };
  const catAll = async (nodes: number[], path: string) => Promise.all(nodes.map((i) => cat(i, path)));
  const waitRunning = (i: number) => waitFor(`node${i} to answer on its control socket`, async () => (await status(i)).running, 60_000, 200);

  before(async () => {
    c.setupBridge();
    for (let i = 1; i <= N; i++) c.addNode(i);
    c.mustCli(1, ['genkey']);
    c.mustCli(1, ['bootstrap', c.name, '-i', c.addr(1)]);
    fsId = JSON.parse(c.mustCli(1, ['--json', 'status', c.name])).fsId;
    // the same operator runs every machine: same key everywhere (authority is tested elsewhere)
    for (let i = 2; i <= N; i++) copyFileSync(join(c.home(1), 'id_ed25519'), join(c.home(i), 'id_ed25519'));
    c.start(1);
    await waitRunning(1);
    for (let i = 2; i <= N; i++) {
      c.mustCli(i, ['get', c.name, c.addr(1), '--id', fsId]); // default port, derived from the name
      c.start(i);
    }
    for (let i = 2; i <= N; i++) await waitRunning(i);
    await waitFor('every node to see the two others', async () => (await Promise.all([1, 2, 3].map(status))).every((s) => s.members.filter((m) => m.connected).length >= 2), 60_000, 300);
    // the CLI shows the same
    const m = JSON.parse(c.mustCli(1, ['--json', 'members', c.name]));
    assert.equal(m.filter((x: { connected: boolean }) => x.connected).length, 2);
  });

  after(async () => {
    if (failed) for (let i = 1; i <= 5; i++) process.stdout.write(`# ---- node${i} output (tail) ----\n${c.output(i).split('\n').slice(-15).map((l) => '# ' + l).join('\n')}\n`);
    await c.cleanup();
  });

  // test() registers the test; the runner awaits it (a top-level test() needs no await either)
  const t = (name: string, fn: () => Promise<void>): void => void test(name, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  t('a write on one node is visible on all of them', async () => {
    const t0 = Date.now();
    write(1, '/hello.txt', 'hello from node1\n');
    const t1 = Date.now();
    await waitFor('the file on every node', async () => (await catAll([2, 3], '/hello.txt')).every((x) => x === 'hello from node1\n'), 20_000, 20);
    process.stdout.write(`# write visible on 3 nodes ${Date.now() - t1} ms after the write command returned (${t1 - t0} ms CLI)\n`);
    const d = await waitFor('equal view digests', () => allEqual([1, 2, 3]), 20_000, 100);
    assert.ok(d);
    // status through the CLI agrees
    const st = JSON.parse(c.mustCli(3, ['--json', 'status', c.name]));
    assert.equal(st.viewDigest, d);
    assert.equal(st.members.length >= 2, true);
  });

  t('concurrent writes on two nodes converge', async () => {
    await Promise.all([
      c.cliAsync(2, ['write', `${c.name}:/same.txt`], { input: 'from 2' }),
      c.cliAsync(3, ['write', `${c.name}:/same.txt`], { input: 'from 3' }),
      c.cliAsync(2, ['mkdir', `${c.name}:/dir2`]),
      c.cliAsync(3, ['mkdir', `${c.name}:/dir3`]),
    ]);
    await waitFor('converged view', async () => (await allEqual([1, 2, 3])) && (await catAll([1, 2, 3], '/same.txt')).every((x) => x !== null), 30_000, 100);
    const vals = new Set(await catAll([1, 2, 3], '/same.txt'));
    assert.equal(vals.size, 1, 'every node picked the same winner');
    const heads = new Set((await Promise.all([1, 2, 3].map(status))).map((s) => s.heads.sort().join(',')));
    assert.equal(heads.size, 1, 'same heads everywhere');
  });

  t('a node cut off writes while the others write too; after healing all converge', async () => {
    c.linkDown(3);
    try {
      write(3, '/island.txt', 'written while cut off\n');
      write(1, '/mainland.txt', 'written by the majority\n');
      write(2, '/mainland2.txt', 'also by the majority\n');
      await waitFor('node2 to get mainland.txt', async () => (await cat(2, '/mainland.txt')) !== null, 20_000, 100);
      // stay apart until node3 has noticed (its connections time out), so healing needs redials
      await waitFor('node3 to lose its connections', async () => (await status(3)).members.every((m) => !m.connected), 90_000, 500);
      assert.equal(await cat(3, '/mainland.txt'), null, 'the cut-off node cannot have seen it');
      assert.equal(await cat(1, '/island.txt'), null, 'the others cannot have seen the island write');
    } finally {
      c.linkUp(3);
    }
    const t0 = Date.now();
    await waitFor('convergence after healing', async () => (await allEqual([1, 2, 3])) && (await cat(1, '/island.txt')) === 'written while cut off\n' && (await cat(3, '/mainland2.txt')) === 'also by the majority\n', 120_000, 200);
    process.stdout.write(`# converged ${Date.now() - t0} ms after the link came back\n`);
    // content too, on every node
    await waitFor('content on every node', async () => (await catAll([1, 2, 3], '/island.txt')).every((x) => x === 'written while cut off\n') && (await catAll([1, 2, 3], '/mainland.txt')).every((x) => x === 'written by the majority\n'), 60_000, 200);
  });

  t('a late node joins with get, then run, and follows new writes', async () => {
    write(2, '/before-late.txt', 'written before the late node joined\n');
    c.addNode(4);
    const out = c.mustCli(4, ['get', c.name, c.addr(2), '--id', fsId], { timeoutMs: 120_000 });
    assert.match(out, /basefs run netfs/);
    assert.equal(c.mustCli(4, ['cat', `${c.name}:/before-late.txt`]), 'written before the late node joined\n');
    // rerun: nothing more to fetch, still succeeds
    c.mustCli(4, ['get', c.name, c.addr(1), '--id', fsId], { timeoutMs: 120_000 });
    c.start(4);
    await waitRunning(4);
    nodes.push(4);
    write(1, '/late.txt', 'after the late node joined\n');
    await waitFor('the late node to see the new write', async () => (await cat(4, '/late.txt')) === 'after the late node joined\n', 30_000, 100);
    await waitFor('equal digests on 4 nodes', () => allEqual([1, 2, 3, 4]), 30_000, 200);
  });

  t('a peer publishing forged and unauthorized entries changes nobody\'s view', async () => {
    const before = await waitFor('a settled view', () => allEqual(nodes), 30_000, 300);
    c.addNode(5);
    c.mustCli(5, ['get', c.name, c.addr(1), '--id', fsId], { timeoutMs: 120_000 });
    c.startScript(5, join(ROOT, 'test/network/lib/rogue.ts'), [c.home(5), c.name, c.addr(1)]);
    await waitFor('the rogue to publish', () => c.output(5).includes('ROGUE DONE'), 60_000, 200);
    // give gossip and a couple of anti-entropy rounds time to carry anything they would
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      assert.equal(await allEqual(nodes), before, 'views unchanged and equal');
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const i of nodes) {
      assert.equal(await cat(i, '/evil.txt'), null);
      assert.equal(await cat(i, '/forged.txt'), null);
    }
    const rejected = await Promise.all(nodes.map(async (i) => ((await call(i, 'resources')) as { node: { counters: { gossipRejected: number } } }).node.counters.gossipRejected));
    assert.ok(rejected.some((n) => n > 0), `some node rejected the rogue's messages (${rejected.join(',')})`);
    // the honest cluster still works
    write(2, '/after-rogue.txt', 'still fine\n');
    await waitFor('a write after the attack to spread', async () => (await catAll(nodes.filter((i) => i !== 2), '/after-rogue.txt')).every((x) => x === 'still fine\n'), 30_000, 100);
  });
});
