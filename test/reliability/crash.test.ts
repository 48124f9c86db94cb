// Crash safety: writers killed with SIGKILL during heavy writes, round after round, on the
// same data directory. After every kill the log must reopen and verify, every acknowledged
// write must be there with its content, and every file in the view must be readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Filesystem } from '../../src/node/filesystem.ts';
import { verifyEntry } from '../../src/log/sign.ts';
import { budget, Recorder } from './lib/results.ts';
import { tmpDir } from './lib/fsutil.ts';
import { cli, cliOk, cliAsync, startNode } from './lib/proc.ts';
import { callControl } from '../../src/node/control.ts';
import { compareView } from '../../src/node/fsck.ts';

const rec = new Recorder(import.meta.url);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Check {
  entries: number;
  files: number;
  bytes: number;
}

// Reopens the filesystem in-process and checks everything; returns what it saw.
// `full`: read every file in the view; otherwise only check their chunks are all stored.
async function verifyAll(home: string, name: string, acked: Map<string, string>, ackedDirs: Set<string>, full = true): Promise<Check> {
  // checkView false: open must not repair the stored view, so that it can be compared here.
  const fs = await Filesystem.open(home, name, null, { checkView: false });
  try {
    assert.deepEqual(await compareView(fs), [], 'the stored view equals a replay of the stored log (issue 15)');
    let entries = 0;
    for (const n of fs.dag.ordered()) {
      assert.ok(verifyEntry(n.entry), `entry ${n.entry.idHex} verifies`);
      entries++;
    }
    assert.equal(fs.dag.parked.size, 0, 'a local writer never parks');
    for (const [p, h] of acked) {
      const data = await fs.readFile(p);
      assert.equal(sha(data), h, `acknowledged ${p} has its content`);
    }
    for (const d of ackedDirs) assert.equal(fs.lookup(d)?.type, 'dir', `acknowledged directory ${d}`);
    // Every file in the view (acknowledged or not) is readable and verified.
    let files = 0;
    let bytes = 0;
    const walk = async (dir: string): Promise<void> => {
      for (const name of fs.state.readdir(dir)) {
        const p = dir === '/' ? '/' + name : dir + '/' + name;
        const n = fs.state.lookup(p)!;
        if (n.type === 'dir') await walk(p);
        else if (n.type === 'file') {
          if (full) {
            const data = await fs.readFile(p);
            assert.equal(data.length, n.size, `${p}: size in the view matches the content`);
          } else {
            assert.deepEqual(await fs.content.missing(n.root!), [], `${p}: every chunk stored`);
            assert.equal(await fs.content.size(n.root!), n.size, `${p}: size in the view matches the chunk list`);
          }
          files++;
          bytes += n.size;
        }
      }
    };
    await walk('/');
    return { entries, files, bytes };
  } finally {
    await fs.close();
  }
}

test('SIGKILL during heavy writes through the Filesystem API, many rounds', { timeout: 900_000 }, async (t) => {
  const home = tmpDir(t, 'basefs-rel-crash-');
  const rounds = budget(20, 100);
  const acked = new Map<string, string>();
  const ackedDirs = new Set<string>();
  const fixture = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
  let last: Check = { entries: 0, files: 0, bytes: 0 };
  let perRound: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const child = spawn(process.execPath, ['--no-warnings', fixture, home, 'crash', String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } });
    let buf = '';
    let err = '';
    let ready = false;
    let n = 0;
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const [tag, p, h] = line.split(' ');
        if (tag === 'ACK') {
          acked.set(p, h);
          n++;
        } else if (tag === 'ACKDIR') ackedDirs.add(p);
        else if (tag === 'READY') ready = true;
      }
    });
    const exited = new Promise((r) => child.once('exit', r));
    const deadline = Date.now() + 60_000;
    while (!ready && Date.now() < deadline && child.exitCode === null) await sleep(20);
    assert.ok(ready, `writer started (round ${round}): ${err}`);
    // Kill at a random moment while writes are in flight.
    await sleep(100 + Math.floor(Math.random() * 700));
    child.kill('SIGKILL');
    await exited;
    perRound.push(n);
    const fresh = new Map([...acked].filter(([p]) => p.startsWith(`/r${round}/`)));
    last = await verifyAll(home, 'crash', fresh, ackedDirs, false);
  }
  // At the end: every write of every round, and every byte of every file.
  last = await verifyAll(home, 'crash', acked, ackedDirs, true);
  const total = perRound.reduce((a, b) => a + b, 0);
  rec.row({ section: 'crash', what: `child process writing files of 0 B-300 KB (4 concurrent writes, mkdirs) through Filesystem.writeFile, SIGKILL at a random moment 100-800 ms after the writer is ready; same data directory for all rounds`, cases: rounds, outcome: `${total} acknowledged writes over ${rounds} rounds (${Math.min(...perRound)}-${Math.max(...perRound)} per round), all present with their content after every kill; after each kill the log reopened, the stored view equal record by record to a replay of the log, every signature verified, every file's chunks present with sizes matching the view; at the end all ${last.files} files (${(last.bytes / 1e6).toFixed(1)} MB, ${last.entries} entries) read back with the chunk store verifying every hash; no parked entries`, ok: true });
  perRound = [];
});

test('SIGKILL of a `basefs run` node while writes go through its control socket (API calls and the CLI)', { timeout: 900_000 }, async (t) => {
  const home = tmpDir(t, 'basefs-rel-crashcli-');
  cliOk(home, ['genkey']);
  cliOk(home, ['bootstrap', 'crashcli']);
  const rounds = budget(3, 50);
  const acked = new Map<string, string>();
  let ackedCli = 0;
  let failedInFlight = 0;
  const errors = new Set<string>();
  let last: Check = { entries: 0, files: 0, bytes: 0 };
  const oneLine = (msg: string) => msg.trim().split('\n').length === 1 ? msg.trim().replace(/[0-9a-f]{12,}|\/tmp\/\S+|pid \d+/g, '…') : `MULTI-LINE: ${msg}`;
  for (let round = 0; round < rounds; round++) {
    const node = await startNode(t, home, 'crashcli', ['--port', '0', '--no-mdns']);
    await callControl(node.sock, 'mkdir', [`/r${round}`]);
    let stop = false;
    let i = 0;
    // Four writers on the control socket (what the CLI does after it starts), acknowledged
    // when the call resolves...
    const apiWriter = async (w: number): Promise<void> => {
      while (!stop) {
        const p = `/r${round}/a${w}-${i++}`;
        const data = randomBytes([10, 5000, 200_000, 1000][i % 4]);
        try {
          await callControl(node.sock, 'write', [p, { base64: data.toString('base64') }], 30_000);
          acked.set(p, sha(data));
        } catch (e) {
          failedInFlight++;
          errors.add(oneLine((e as Error).message));
          return;
        }
      }
    };
    // ...and one real CLI writer, acknowledged by exit status 0.
    const cliWriter = async (): Promise<void> => {
      while (!stop) {
        const p = `/r${round}/cli-${i++}`;
        const data = randomBytes(3000);
        const r = await cliAsync(home, ['write', `crashcli:${p}`], data);
        if (r.code === 0) {
          acked.set(p, sha(data));
          ackedCli++;
        } else {
          failedInFlight++;
          errors.add(oneLine(r.stderr));
        }
      }
    };
    const ws = [apiWriter(0), apiWriter(1), apiWriter(2), apiWriter(3), cliWriter()];
    await sleep(1500 + Math.floor(Math.random() * 2000));
    await node.kill('SIGKILL');
    stop = true;
    await Promise.all(ws);
    const fresh = new Map([...acked].filter(([p]) => p.startsWith(`/r${round}/`)));
    last = await verifyAll(home, 'crashcli', fresh, new Set([`/r${round}`]), false);
    // The CLI itself reopens the log after the crash (stale control socket, no node).
    const st = cli(home, ['status', 'crashcli', '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).entries, last.entries);
  }
  last = await verifyAll(home, 'crashcli', acked, new Set(), true);
  const errs = [...errors];
  rec.row({ section: 'crash', what: '`basefs run` node killed with SIGKILL 1.5-3.5 s into each round while 4 writers call `write` on its control socket (200 KB-10 B files) and a `basefs write` CLI process writes too; node restarted on the same data directory each round', cases: rounds, outcome: `${acked.size} writes acknowledged (${ackedCli} of them by the CLI's exit status 0), all present with their content and the stored view equal to a replay after every kill; ${failedInFlight} in-flight writes failed with one-line errors (${errs.slice(0, 4).map((e) => JSON.stringify(e)).join(' / ')}); \`basefs status\` reopens the log after each kill; at the end all ${last.files} files read back and verified`, ok: errs.every((e) => !e.startsWith('MULTI-LINE')) });
  assert.ok(acked.size > 0);
  for (const e of errs) assert.ok(!e.startsWith('MULTI-LINE'), e);
});
