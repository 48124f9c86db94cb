// Issue 18 on real, separate network stacks: three `basefs run -f` nodes in network
// namespaces. A hook on node 3 for /etc/app runs after a write on node 1 and sees the new
// content; writes elsewhere do not run it; a write by a key without authority (a rogue peer)
// never runs a hook; node 3 stopped while node 1 writes five times runs it once after its
// restart, with the final content; a burst of 100 writes on node 1 runs it a few times.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, netnsUnavailable, waitFor, ROOT, BIN } from '../../harness/netns.ts';
import { callControl } from '../../src/node/control.ts';
import { controlSocketPath } from '../../src/node/datadir.ts';

const skip = netnsUnavailable();
if (skip) process.stdout.write(`# skipping namespace hook tests: ${skip}\n`);

interface Listed { name: string; running: boolean; pending: number; cursor: number; last: { status: string } | null }

describe('hooks across nodes on network namespaces', { skip: skip ?? false, timeout: 900_000 }, () => {
  const c = new Cluster('hookfs');
  const call = (i: number, method: string, params: unknown[] = []) => callControl(controlSocketPath(c.home(i), c.name), method, params, 30_000);
  const write = (i: number, path: string, text: string) => call(i, 'write', [path, { base64: Buffer.from(text).toString('base64') }]);
  const log = () => join(c.home(3), 'runs.log');
  const runs = () => (existsSync(log()) ? readFileSync(log(), 'utf8').split('\n').filter(Boolean) : []);
  const hooks = () => JSON.parse(c.mustCli(3, ['--json', 'hook', 'list', c.name])) as Listed[];
  const digest = async (i: number) => ((await call(i, 'status')) as { viewDigest: string }).viewDigest;
  const head = (i: number) => {
    const l = c.mustCli(i, ['--json', 'watch', c.name, '--since', '0', '--no-follow']).trim().split('\n');
    return JSON.parse(l[l.length - 1]).cursor as number;
  };
  // Node 3 holds what node 1 holds, and its hooks have handled all of it: no run can come
  // without a new change.
  const settled = () => waitFor('node 3 to converge and its hooks to be idle', async () => {
    if ((await digest(1)) !== (await digest(3))) return false;
    const h = head(3);
    return hooks().every((x) => !x.running && x.pending === 0 && x.cursor >= h);
  }, 60_000, 200);

  before(async () => {
    c.setupBridge();
    for (let i = 1; i <= 4; i++) c.addNode(i);
    c.mustCli(1, ['genkey']);
    c.mustCli(1, ['bootstrap', c.name, '-i', c.addr(1)]);
    c.mustCli(1, ['mkdir', '-p', `${c.name}:/etc/app`]);
    // The same operator on every machine, each with a copy of the log so far (as bench/network.ts).
    for (let i = 2; i <= 4; i++) {
      copyFileSync(join(c.home(1), 'id_ed25519'), join(c.home(i), 'id_ed25519'));
      mkdirSync(join(c.home(i), 'fs'), { recursive: true });
      cpSync(join(c.home(1), 'fs', c.name), join(c.home(i), 'fs', c.name), { recursive: true });
    }
    // The hook reads the new content through node 3 itself, as a real reload script would.
    const script = join(c.home(3), 'hook.sh');
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$("${BIN}" --data-dir "$BASEFS_HOME" cat "$BASEFS_NAME:/etc/app/conf" 2>&1)" >> "${log()}"\n`, { mode: 0o755 });
    c.mustCli(3, ['hook', 'add', `${c.name}:/etc/app`, '--name', 'app', '--debounce', '1500', '--', script]);
    // Hooks on the paths the rogue peer writes to (without authority): must never run.
    for (const p of ['/evil.txt', '/forged.txt', '/evil2.txt']) c.mustCli(3, ['hook', 'add', `${c.name}:${p}`, '--name', 'rogue' + p.replace(/\W/g, ''), '--', 'touch', join(c.home(3), 'rogue-ran')]);
    for (let i = 1; i <= 3; i++) c.start(i);
    for (let i = 1; i <= 3; i++) await waitFor(`node${i} to answer`, async () => ((await call(i, 'status').catch(() => ({}))) as { running?: boolean }).running, 60_000, 200);
    await waitFor('node 3 to see node 1', async () => ((await call(3, 'members')) as { connected: boolean }[]).some((m) => m.connected), 60_000, 200);
  });

  after(async () => {
    await c.cleanup();
  });

  test('a write on node 1 runs the hook on node 3, which sees the new content', async () => {
    await write(1, '/etc/app/conf', 'v1');
    await waitFor('the hook on node 3 to run', () => runs().length === 1, 30_000, 100);
    assert.deepEqual(runs(), ['v1']);
    await settled();
  });

  test('writes elsewhere do not run it; a rogue peer without authority never runs a hook', async () => {
    await write(1, '/etc/other', 'x');
    await write(2, '/etc/app2', 'x');
    c.startScript(4, join(ROOT, 'test/network/lib/rogue.ts'), [c.home(4), c.name, c.addr(1)]);
    await waitFor('the rogue to publish', () => c.output(4).includes('ROGUE DONE'), 60_000, 200);
    // A valid write after the attack: once node 3 has it, it has seen what the rogue sent before.
    await write(2, '/after-rogue', 'fine');
    await settled();
    assert.deepEqual(runs(), ['v1'], 'no run for writes outside /etc/app');
    assert.equal(existsSync(join(c.home(3), 'rogue-ran')), false, 'no hook ran for the rogue');
    const seen = c.mustCli(3, ['--json', 'watch', c.name, '--since', '0', '--no-follow']);
    assert.doesNotMatch(seen, /evil|forged/, 'the rogue entries are not in the journal');
    assert.ok(hooks().filter((h) => h.name.startsWith('rogue')).every((h) => h.last === null));
  });

  test('node 3 stopped while node 1 writes five times: one run after its restart, final content', async () => {
    await c.stop(3);
    for (let i = 1; i <= 5; i++) await write(1, '/etc/app/conf', `down${i}`);
    const before = runs().length;
    c.start(3);
    await waitFor('node 3 to run the hook after its restart', () => runs().length > before, 60_000, 100);
    await settled();
    assert.deepEqual(runs().slice(before), ['down5']);
  });

  test('a burst of 100 writes on node 1 runs it a few times, the last with the final content', async () => {
    const before = runs().length;
    for (let i = 0; i < 100; i++) await write(1, '/etc/app/conf', `b${i}`);
    await settled();
    const burst = runs().slice(before);
    assert.ok(burst.length >= 1 && burst.length <= 5, `100 writes ran it ${burst.length} times`);
    assert.equal(burst[burst.length - 1], 'b99');
  });
});
