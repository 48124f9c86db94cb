// Two mounted nodes, each in its own network namespace (veth links to one bridge), see each
// other's writes through their mounts. The nodes run `basefs mount -f` under
// `nsenter --net=...`, so only their network stack is separate: the FUSE mounts live in this
// mount namespace, where the test reads them (through child processes with timeouts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, netnsUnavailable, waitFor } from '../../harness/netns.ts';
import { fuseUnavailable, sh, must, q, BIN, mountedAt } from './helpers.ts';

const skip = fuseUnavailable() ?? netnsUnavailable() ?? (sh('nsenter --version').code !== 0 ? 'nsenter is not installed' : null);
if (skip) console.log(`# skipping the two-node FUSE test: ${skip}`);

test('two mounted nodes in separate network namespaces see each other\'s writes', { skip: skip ?? false, timeout: 600_000 }, async (t) => {
  const c = new Cluster('fusenet');
  const procs = new Map<number, ChildProcess>();
  const mnt = (i: number) => join(c.base, `mnt${i}`);
  let failed = true;
  t.after(async () => {
    for (const [, p] of procs) if (p.exitCode === null) p.kill('SIGTERM');
    const end = Date.now() + 20_000;
    while ([...procs.values()].some((p) => p.exitCode === null && p.signalCode === null) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    for (const [, p] of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const i of [1, 2]) if (mountedAt(mnt(i))) sh(`fusermount -uz ${q(mnt(i))}`, { timeoutMs: 20_000 });
    if (failed) for (const i of [1, 2]) {
      const f = join(c.base, `mount${i}.out`);
      if (existsSync(f)) process.stdout.write(`# ---- node${i} ----\n${readFileSync(f, 'utf8').split('\n').slice(-15).map((l) => '# ' + l).join('\n')}\n`);
    }
    await c.cleanup([1, 2].some((i) => mountedAt(mnt(i))));
  });

  c.setupBridge();
  c.addNode(1);
  c.addNode(2);
  c.mustCli(1, ['genkey']);
  c.mustCli(1, ['bootstrap', c.name, '-i', c.addr(1)]);
  copyFileSync(join(c.home(1), 'id_ed25519'), join(c.home(2), 'id_ed25519')); // one operator, two machines

  const mount = (i: number) => {
    mkdirSync(mnt(i), { recursive: true });
    const fd = openSync(join(c.base, `mount${i}.out`), 'a');
    const p = spawn('nsenter', [`--net=/var/run/netns/${c.ns(i)}`, BIN, '--data-dir', c.home(i), 'mount', c.name, mnt(i), '-f', '--host', c.addr(i)], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    procs.set(i, p);
    return waitFor(`node${i}'s mount`, () => mountedAt(mnt(i)), 90_000, 200);
  };
  const inMnt = (i: number, cmd: string) => must(cmd, { cwd: mnt(i), timeoutMs: 60_000 });
  const sees = (i: number, file: string, want: string, ms = 30_000) =>
    waitFor(`node${i} to see ${file}`, () => {
      const r = sh(`cat ${q(file)}`, { cwd: mnt(i), timeoutMs: 10_000 });
      return r.code === 0 && r.stdout === want;
    }, ms, 100);

  await mount(1);
  c.mustCli(2, ['get', c.name, c.addr(1), '--id', JSON.parse(c.mustCli(1, ['--json', 'status', c.name])).fsId]);
  await mount(2);

  // node1 -> node2
  inMnt(1, 'echo "written on node1" > one.txt && mkdir -p dir/sub && echo deep > dir/sub/f');
  let t0 = Date.now();
  await sees(2, 'one.txt', 'written on node1\n');
  process.stdout.write(`# node1 -> node2: visible in node2's mount after ${Date.now() - t0} ms\n`);
  await sees(2, 'dir/sub/f', 'deep\n');

  // node2 -> node1, including content that has to travel (2 MiB of random bytes)
  inMnt(2, 'echo "written on node2" > two.txt && head -c 2097152 /dev/urandom > big.bin && sha256sum big.bin > big.sum');
  t0 = Date.now();
  await sees(1, 'two.txt', 'written on node2\n');
  process.stdout.write(`# node2 -> node1: visible in node1's mount after ${Date.now() - t0} ms\n`);
  const sum = inMnt(2, 'cat big.sum');
  await sees(1, 'big.sum', sum);
  await waitFor('big.bin on node1', () => sh('sha256sum -c big.sum', { cwd: mnt(1), timeoutMs: 30_000 }).code === 0, 60_000, 200);

  // changes and removals travel too
  inMnt(1, 'echo changed > two.txt && rm one.txt && mv dir/sub/f dir/g');
  await sees(2, 'two.txt', 'changed\n');
  await waitFor('one.txt gone on node2', () => sh('test ! -e one.txt', { cwd: mnt(2) }).code === 0, 30_000, 100);
  await sees(2, 'dir/g', 'deep\n');
  assert.equal(sh('ls dir/sub', { cwd: mnt(2) }).stdout, '');

  // owners travel by name (issue 13 item 5): a chown on node1 shows on node2
  inMnt(1, 'chown nobody:staff dir/g');
  await waitFor('dir/g owned by nobody:staff on node2', () => sh("stat -c '%U:%G' dir/g", { cwd: mnt(2) }).stdout.trim() === 'nobody:staff', 30_000, 100);

  // both stop cleanly on SIGTERM and leave nothing mounted
  for (const i of [1, 2]) {
    const p = procs.get(i)!;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(mountedAt(mnt(i)), false);
  }
  failed = false;
});
