// Disk full and read-only data directories: the data directory is a small tmpfs. Writes
// until ENOSPC must fail with one clear line, never corrupt the log; after more space (or
// back to read-write) the log must reopen, verify and hold every acknowledged write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Filesystem } from '../../src/node/filesystem.ts';
import { verifyEntry } from '../../src/log/sign.ts';
import { callControl } from '../../src/node/control.ts';
import { Recorder } from './lib/results.ts';
import { cli, cliOk, cliAsync, startNode } from './lib/proc.ts';
import { loadKeyFile } from '../../src/crypto/keyfile.ts';

const rec = new Recorder(import.meta.url);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const isRoot = process.getuid?.() === 0;

function sh(cmd: string[], check = true): string {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (check && r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function tmpfs(t: { after: (fn: () => void) => void }, size: string): string {
  const d = mkdtempSync(join(tmpdir(), 'basefs-rel-tmpfs-'));
  sh(['mount', '-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', d]);
  t.after(() => {
    spawnSync('umount', ['-l', d]);
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

function canMount(): boolean {
  if (!isRoot) return false;
  const d = mkdtempSync(join(tmpdir(), 'basefs-rel-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d]).status === 0;
  if (ok) spawnSync('umount', [d]);
  rmSync(d, { recursive: true, force: true });
  return ok;
}
const skip = canMount() ? false : 'needs root and tmpfs mounts';

async function verify(home: string, name: string, acked: Map<string, string>): Promise<number> {
  const fs = await Filesystem.open(home, name, null);
  try {
    let n = 0;
    for (const node of fs.dag.ordered()) {
      assert.ok(verifyEntry(node.entry));
      n++;
    }
    for (const [p, h] of acked) assert.equal(sha(await fs.readFile(p)), h, `acknowledged ${p}`);
    return n;
  } finally {
    await fs.close();
  }
}

const oneLine = (s: string) => s.trim().split('\n').length === 1;

test('disk full (2 MiB tmpfs): a running node, then the CLI without a node', { skip, timeout: 300_000 }, async (t) => {
  const home = tmpfs(t, '2m');
  cliOk(home, ['genkey']);
  cliOk(home, ['bootstrap', 'full']);
  const acked = new Map<string, string>();
  const clean = (m: string) => m.replace(/\/tmp\/\S+/g, '…');
  // 1. A running node: writes through its control socket until the disk is full.
  const node = await startNode(t, home, 'full', ['--port', '0', '--no-mdns']);
  const errs: string[] = [];
  for (let i = 0; i < 100 && errs.length < 4; i++) {
    const data = randomBytes(60_000);
    try {
      await callControl(node.sock, 'write', [`/n${i}`, { base64: data.toString('base64') }], 30_000);
      acked.set(`/n${i}`, sha(data));
    } catch (e) {
      errs.push((e as Error).message);
    }
  }
  assert.ok(errs.length > 0, 'the disk filled up');
  const alive = await callControl(node.sock, 'status', [], 10_000).then(() => true, () => false);
  rec.row({ section: 'disk', what: '`basefs run` node on a 2 MiB tmpfs: 60 KB writes through its control socket until the disk is full, then 3 more', cases: acked.size + errs.length, outcome: `${acked.size} acknowledged, then ${errs.length} failures: ${[...new Set(errs.map(clean))].map((e) => JSON.stringify(e)).join(' / ')}; node still answers: ${alive}`, ok: alive && errs.every(oneLine) });
  assert.ok(alive, 'the node survives a full disk');
  for (const e of errs) assert.ok(oneLine(e), e);
  // Space added while the node runs.
  sh(['mount', '-o', 'remount,size=64m', home]);
  let recovered = 'yes';
  try {
    const data = randomBytes(40_000);
    await callControl(node.sock, 'write', ['/after-grow', { base64: data.toString('base64') }], 30_000);
    acked.set('/after-grow', sha(data));
  } catch (e) {
    recovered = `no: ${clean((e as Error).message)}`;
  }
  rec.row({ section: 'disk', what: 'space added (remount size=64m) while that node runs; one more write through it', cases: 1, outcome: `write succeeded without a restart: ${recovered}`, ok: recovered === 'yes', note: recovered === 'yes' ? undefined : 'the node must be restarted after ENOSPC' });
  await node.kill('SIGTERM');
  let entries = await verify(home, 'full', acked);
  rec.row({ section: 'disk', what: 'after the node stopped: reopen and verify', cases: 1, outcome: `log of ${entries} entries reopened, every signature verified, all ${acked.size} acknowledged files read back`, ok: true });

  // 2. The CLI straight on the log: shrink the tmpfs to what is used + 400 KB, then 100 KB writes.
  const usedK = Number(sh(['df', '-k', '--output=used', home]).trim().split('\n')[1]);
  sh(['mount', '-o', `remount,size=${usedK + 400}k`, home]);
  const failures: string[] = [];
  let cliAcked = 0;
  for (let i = 0; i < 30 && failures.length < 3; i++) {
    const data = randomBytes(100_000);
    const r = cli(home, ['write', `full:/c${i}`], { input: data });
    if (r.code === 0) {
      acked.set(`/c${i}`, sha(data));
      cliAcked++;
    } else failures.push(r.stderr.trim());
  }
  assert.ok(failures.length > 0, 'the disk filled up again');
  rec.row({ section: 'disk', what: '`basefs write` (no node) of 100 KB files until the disk is full, then 2 more', cases: cliAcked + failures.length, outcome: `${cliAcked} acknowledged, then ${failures.length} failures, each one line: ${[...new Set(failures.map(clean))].map((f) => JSON.stringify(f)).join(' / ')}`, ok: failures.every(oneLine) });
  for (const f of failures) assert.ok(oneLine(f), `one line: ${f}`);
  // Reads on the full disk.
  const [cat, st] = await Promise.all([cliAsync(home, ['cat', 'full:/n0']), cliAsync(home, ['status', 'full', '--json'])]);
  rec.row({ section: 'disk', what: 'read commands on the full disk (`cat`, `status`)', cases: 2, outcome: `cat exit ${cat.code}${cat.code ? ` "${clean(cat.stderr.trim())}"` : ''}; status exit ${st.code}${st.code ? ` "${clean(st.stderr.trim())}"` : ''}`, ok: cat.code === 0 && st.code === 0, note: cat.code === 0 ? undefined : 'reading needs free space: LevelDB writes when it opens (see findings)' });
  for (const r of [cat, st]) if (r.code !== 0) assert.ok(oneLine(r.stderr));
  // 3. More space, reopen: every acknowledged write is there and the log verifies.
  sh(['mount', '-o', 'remount,size=64m', home]);
  entries = await verify(home, 'full', acked);
  const more = cli(home, ['write', 'full:/after'], { input: 'ok' });
  rec.row({ section: 'disk', what: 'after the disk was full again: remount with 64 MiB, reopen, verify', cases: 1, outcome: `log of ${entries} entries reopened, every signature verified, all ${acked.size} acknowledged files read back; a new write: exit ${more.code}`, ok: more.code === 0 });
  assert.equal(more.code, 0, more.stderr);
});

test('read-only data directory (tmpfs remounted ro)', { skip, timeout: 300_000 }, async (t) => {
  const home = tmpfs(t, '16m');
  cliOk(home, ['genkey']);
  cliOk(home, ['bootstrap', 'ro']);
  const acked = new Map<string, string>();
  const kp = loadKeyFile(join(home, 'id_ed25519'));
  const w0 = await Filesystem.open(home, 'ro', kp);
  for (let i = 0; i < 5; i++) {
    const data = randomBytes(20_000);
    await w0.writeFile(`/f${i}`, data);
    acked.set(`/f${i}`, sha(data));
  }
  await w0.close();
  sh(['mount', '-o', 'remount,ro', home]);
  const [w, ls, cat, run] = await Promise.all([
    cliAsync(home, ['write', 'ro:/new'], Buffer.from('x')),
    cliAsync(home, ['ls', 'ro:/']),
    cliAsync(home, ['cat', 'ro:/f0']),
    cliAsync(home, ['run', 'ro', '-f', '--port', '0', '--no-mdns']),
  ]);
  const fmt1 = (r: { code: number; stderr: string }) => `exit ${r.code}${r.code ? ` "${r.stderr.trim().replace(/\/tmp\/\S+/g, '…')}"` : ''}`;
  // Commands with the same outcome are listed together.
  const fmtAll = (rs: [string, { code: number; stderr: string }][]) => {
    const by = new Map<string, string[]>();
    for (const [n, r] of rs) by.set(fmt1(r), [...(by.get(fmt1(r)) ?? []), `\`${n}\``]);
    return [...by].map(([o, ns]) => `${ns.join(', ')}: ${o}`).join('; ');
  };
  rec.row({ section: 'disk', what: 'data directory remounted read-only: `write`, `ls`, `cat`, `run`', cases: 4, outcome: fmtAll([['write', w], ['ls', ls], ['cat', cat], ['run', run]]), ok: w.code !== 0 && [w, ls, cat, run].every((r) => r.code === 0 || oneLine(r.stderr)), note: ls.code !== 0 ? 'read-only commands also need a writable data directory' : undefined });
  assert.notEqual(w.code, 0);
  for (const r of [w, ls, cat, run]) if (r.code !== 0) assert.ok(oneLine(r.stderr), r.stderr);
  sh(['mount', '-o', 'remount,rw', home]);
  // A read-only bind mount of the same data directory (the original stays writable).
  const view = mkdtempSync(join(tmpdir(), 'basefs-rel-robind-'));
  sh(['mount', '--bind', home, view]);
  t.after(() => {
    spawnSync('umount', ['-l', view]);
    rmSync(view, { recursive: true, force: true });
  });
  sh(['mount', '-o', 'remount,bind,ro', view]);
  const [bw, bl] = await Promise.all([cliAsync(view, ['write', 'ro:/new'], Buffer.from('x')), cliAsync(view, ['ls', 'ro:/'])]);
  rec.row({ section: 'disk', what: 'read-only bind mount of the data directory: `write`, `ls`', cases: 2, outcome: fmtAll([['write', bw], ['ls', bl]]), ok: bw.code !== 0 && oneLine(bw.stderr) });
  assert.notEqual(bw.code, 0);
  // A node holding the directory cannot have it remounted read-only under it (EBUSY).
  const node = await startNode(t, home, 'ro', ['--port', '0', '--no-mdns']);
  const busy = spawnSync('mount', ['-o', 'remount,ro', home], { encoding: 'utf8' });
  const alive = await callControl(node.sock, 'status', [], 10_000).then(() => true, () => false);
  rec.row({ section: 'disk', what: 'remount read-only while a node runs on the directory', cases: 1, outcome: busy.status === 0 ? 'remounted read-only under the running node' : `refused by the kernel (${busy.stderr.trim().split('\n')[0].replace(/\/tmp\/\S+/g, '…')}); node still answers: ${alive}`, ok: true });
  if (busy.status === 0) sh(['mount', '-o', 'remount,rw', home]);
  await node.kill('SIGTERM');
  const entries = await verify(home, 'ro', acked);
  rec.row({ section: 'disk', what: 'back to read-write: reopen and verify', cases: 1, outcome: `log of ${entries} entries verified, all ${acked.size} acknowledged files read back`, ok: true });
  void readFileSync;
});

// Issue 15: entries are applied in memory before their synced batch; a batch that does not
// reach the disk must leave nothing behind in the running node (memory is reloaded from the log).
test('a log append that fails on a full disk leaves nothing in the running node: not shown, not built on', { skip, timeout: 300_000 }, async (t) => {
  const home = tmpfs(t, '8m');
  cliOk(home, ['genkey']);
  cliOk(home, ['bootstrap', 'ph']);
  const node = await startNode(t, home, 'ph', ['--port', '0', '--no-mdns']);
  // Fill the disk, then make directories (no content: only the log is written) until one fails.
  spawnSync('dd', ['if=/dev/zero', `of=${join(home, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
  const made: string[] = [];
  let failed: string | null = null;
  let why = '';
  for (let i = 0; i < 500 && !failed; i++) {
    try {
      await callControl(node.sock, 'mkdir', [`/d${i}`], 30_000);
      made.push(`/d${i}`);
    } catch (e) {
      failed = `/d${i}`;
      why = (e as Error).message;
    }
  }
  assert.ok(failed, 'an append failed on the full disk');
  assert.match(why, /disk full|No space/i);
  const names = async () => ((await callControl(node.sock, 'ls', ['/'], 10_000)) as { name: string }[]).map((r) => '/' + r.name);
  assert.ok(!(await names()).includes(failed!), `the failed ${failed} is not shown by the node`);
  for (const d of made) assert.ok((await names()).includes(d));
  rmSync(join(home, 'filler'));
  await callControl(node.sock, 'mkdir', ['/after'], 30_000);
  await node.kill('SIGTERM');
  // After a restart: /after is there (it was not built on the failed entry), the failed one is not.
  const ls = cliOk(home, ['ls', 'ph:/']).trim().split('\n');
  assert.ok(ls.includes('after/'), 'the next write was stored on top of what the disk holds');
  assert.ok(!ls.includes(failed!.slice(1) + '/'));
  const f = cli(home, ['fsck', 'ph']);
  assert.equal(f.code, 0, f.stdout + f.stderr);
  rec.row({ section: 'disk', what: '`basefs run` node: mkdirs through its control socket on a full disk until the log append fails; then space freed, one more mkdir; restart', cases: made.length + 2, outcome: `${made.length} acknowledged, then the append of ${failed} failed (${JSON.stringify(why.replace(/\/tmp\/\S+/g, '…'))}); the node did not show it; the next mkdir after freeing space was stored and survived the restart; fsck: stored view equal to a replay`, ok: true });
});
