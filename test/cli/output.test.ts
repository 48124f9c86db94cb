import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';

// What `list`, `blocks`, `resources`, `run`, `get` and `stop`/`unmount` print, through the
// real CLI with a real background node on the loopback interface.

function portOf(addr: string): number {
  return Number(/\/tcp\/(\d+)/.exec(addr)![1]);
}

test('list, blocks, resources, run, get and stop say what is true', { timeout: 240_000 }, async (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  const boot = JSON.parse(ok(home, ['--json', 'bootstrap', 'myfs']));
  const t0 = Date.now();
  // 24 files of 256 KiB of random bytes (+ /.cluster): about 100 chunks, so a fetch has a
  // middle to show.
  for (let i = 0; i < 24; i++) {
    const f = join(home, 'src.bin');
    writeFileSync(f, randomBytes(256 * 1024));
    ok(home, ['write', `myfs:/f${i}.bin`, f]);
  }
  const t1 = Date.now();

  // Stopped node, data dir left by an earlier mount (node.json still names its mount point).
  writeFileSync(join(home, 'fs', 'myfs', 'node.json'), JSON.stringify({ mountpoint: '/mnt/gone' }));
  let [row] = JSON.parse(ok(home, ['--json', 'list']));
  assert.equal(row.running, false);
  assert.equal(row.mountpoint, null, 'a stopped node has no mount point');
  assert.equal(row.port, boot.port, 'stopped: the port it will listen on next');
  const last = Date.parse(row.lastUpdate);
  assert.ok(last >= t0 - 1000 && last <= t1 + 1000, `last update ${row.lastUpdate} is the time of the newest entry`);
  const human = ok(home, ['list']).trim().split('\n');
  assert.match(human[0], /LAST UPDATE/);
  assert.ok(human[1].includes(row.lastUpdate.replace(/\.\d+Z$/, 'Z')), `LAST UPDATE filled: ${human[1]}`);

  const blocks = ok(home, ['blocks', 'myfs']);
  assert.match(blocks, /^chunks referenced +\d+$/m);
  assert.doesNotMatch(blocks, /files referenced/);
  assert.match(ok(home, ['resources', 'myfs']), /^process +no node is running for myfs/m);

  // A background node on a port the OS picks (not the name-derived one).
  const run = basefs(home, ['run', 'myfs', '--port', '0', '--host', '127.0.0.1', '--no-mdns']);
  assert.equal(run.code, 0, run.stderr);
  // by pid: the data dir may already be gone when this runs
  const nodePid = Number(/\(pid (\d+),/.exec(run.stdout)![1]);
  let stopped = false;
  t.after(() => {
    if (!stopped) try { process.kill(nodePid, 'SIGKILL'); } catch { /* already gone */ }
  });
  assert.match(run.stdout, /stop it with: basefs stop myfs/);
  assert.doesNotMatch(run.stdout, /kill \d+/);
  const res = JSON.parse(ok(home, ['--json', 'resources', 'myfs']));
  assert.equal(res.pid, nodePid, 'run printed the pid of the node');
  const port = res.node.port;
  assert.ok(port > 0 && port !== boot.port, `bound port ${port}`);
  assert.ok(res.node.addrs.every((a: string) => portOf(a) === port));
  [row] = JSON.parse(ok(home, ['--json', 'list']));
  assert.equal(row.running, true);
  assert.equal(row.port, port, 'running: the port the node actually listens on');
  assert.equal(row.mountpoint, null, 'a node started with run has no mount');
  const rh = ok(home, ['resources', 'myfs']);
  assert.match(rh, new RegExp(`^process +node of myfs, pid ${res.pid}, up `, 'm'));
  assert.match(rh, new RegExp(`^port +${port}$`, 'm'));
  assert.match(rh, /^memory +[\d.]+ (KiB|MiB|GiB) resident/m);
  assert.doesNotMatch(rh, /[{}]/, 'not JSON');

  // get: the content progress moves (one line per tenth on a non-terminal), and the summary
  // rates are the rates the bars ended on.
  const home2 = tmpHome(t);
  const get = basefs(home2, ['get', 'myfs', `127.0.0.1:${port}`, '--id', row.fsId]);
  assert.equal(get.code, 0, get.stderr);
  const content = get.stderr.split('\n').filter((l) => l.startsWith('content: '));
  const middle = content.filter((l) => !l.endsWith(' done'));
  assert.ok(middle.length >= 3, `content progress moves before the end:\n${get.stderr}`);
  const fracs = middle.map((l) => /content: ([\d.]+ \w+)\/([\d.]+ \w+)/.exec(l)!);
  assert.ok(fracs.every((m) => m[1] !== m[2]), 'intermediate lines are before the end');
  assert.equal(new Set(fracs.map((m) => m[1])).size, fracs.length, 'each line shows more');
  const doneRate = (kind: string) => new RegExp(`^${kind}: .*\\((.+)/s\\) done$`, 'm').exec(get.stderr)![1];
  assert.match(get.stdout, new RegExp(`^  entries +\\d+ \\(\\d+ new in [\\d.]+ s, ${doneRate('entries')}/s\\)$`, 'm'));
  assert.match(get.stdout, new RegExp(`^  content +25 files, .* \\(${doneRate('content').replace(/\./g, '\\.')}/s\\)$`, 'm'));
  const [row2] = JSON.parse(ok(home2, ['--json', 'list']));
  assert.equal(row2.lastUpdate, row.lastUpdate, 'last update is the newest entry, the same on both');

  const stop = ok(home, ['stop', 'myfs']);
  stopped = true;
  assert.match(stop, /^stopped the node of myfs \(pid \d+\)/);
  assert.doesNotMatch(stop, /unmounted/);
  [row] = JSON.parse(ok(home, ['--json', 'list']));
  assert.equal(row.running, false);
  assert.equal(row.mountpoint, null);
});
