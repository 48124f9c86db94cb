// Issue 18: hooks on a real `basefs run` node, configured with the CLI: a local write under the
// path runs the hook, which sees the new content; writes elsewhere do not; a burst runs it a
// few times and the last run sees the final content; changes made while the node was down
// run it once after start; bad commands (missing, failing, hanging, very talkative) are
// reported and bounded. The remote cases are in test/network/hooks.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASEFS, basefs, ok, tmpHome } from './helpers.ts';
import { callControl } from '../../src/node/control.ts';
import { controlSocketPath } from '../../src/node/datadir.ts';

function startNode(t: { after: (fn: () => void) => void }, home: string, name: string): void {
  const run = basefs(home, ['run', name, '--port', '0', '--host', '127.0.0.1', '--no-mdns']);
  assert.equal(run.code, 0, run.stderr);
  const pid = Number(/\(pid (\d+),/.exec(run.stdout)![1]);
  t.after(() => {
    try { process.kill(pid, 'SIGKILL'); } catch { /* stopped */ }
  });
}

async function until<T>(what: string, cond: () => T | Promise<T>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// One line per run in the hook's log: "<changes> <content of /etc/app/conf>".
function runs(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

interface Listed { name: string; running: boolean; pending: number; cursor: number; failures: number; last: { status: string; message: string; outputBytes: number; tail: string; paths: number } | null }
const list = (home: string, name: string): Listed[] => JSON.parse(ok(home, ['--json', 'hook', 'list', name]));
// Idle: nothing pending, nothing running, and its cursor covers every change so far; no run
// can come without a new change.
async function idle(home: string, name: string, hook: string): Promise<Listed | null> {
  return until<Listed | null>(`hook ${hook} to be idle`, async () => {
    const head = await journalHead(home, name);
    const h = list(home, name).find((x) => x.name === hook)!;
    return !h.running && h.pending === 0 && h.cursor >= head ? h : null;
  });
}
async function journalHead(home: string, name: string): Promise<number> {
  const out = ok(home, ['--json', 'watch', name, '--since', '0', '--no-follow']).trim().split('\n').filter(Boolean);
  return out.length ? JSON.parse(out[out.length - 1]).cursor : 0;
}

test('hooks: local writes, writes elsewhere, a burst, changes while the node was down', { timeout: 300_000 }, async (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'h']);
  ok(home, ['mkdir', '-p', 'h:/etc/app']);
  const log = join(home, 'runs.log');
  const script = join(home, 'hook.sh');
  // What a hook does in real life: read the new configuration (through the node, with basefs).
  writeFileSync(script, `#!/bin/sh\nprintf '%s %s\\n' "$BASEFS_CHANGES" "$("${BASEFS}" cat "$BASEFS_NAME:/etc/app/conf" 2>/dev/null)" >> "${log}"\n`, { mode: 0o755 });
  const added = ok(home, ['hook', 'add', 'h:/etc/app', '--name', 'app', '--debounce', '1500', '--', script]);
  assert.match(added, /hook app added: runs .*hook\.sh when h:\/etc\/app changes \(debounce 1500 ms, timeout 60 s\)/);
  assert.equal(statSync(join(home, 'fs', 'h', 'hooks.json')).mode & 0o777, 0o600, 'owner-only configuration');
  const noCmd = basefs(home, ['hook', 'add', 'h:/etc', '--']);
  assert.notEqual(noCmd.code, 0);
  assert.match(noCmd.stderr, /hook add needs a command after --/);

  // Without debounce, changes during a run: never two runs of one hook at once.
  const serial = join(home, 'serial.sh');
  writeFileSync(serial, `#!/bin/sh\ncd "${home}"\nif ! mkdir serial.lock 2>/dev/null; then echo OVERLAP >> serial.log; exit 0; fi\necho run >> serial.log\nsleep 0.2\nrmdir serial.lock\n`, { mode: 0o755 });
  ok(home, ['hook', 'add', 'h:/etc/app', '--name', 'serial', '--debounce', '0', '--', serial]);
  startNode(t, home, 'h');
  assert.deepEqual(runs(log), [], 'no run without a change');
  ok(home, ['write', 'h:/etc/app/conf'], 'v1');
  await until('a run after the local write', () => runs(log).length === 1);
  assert.equal(runs(log)[0], '1 v1', 'it saw the new content and one changed path');

  // Writes elsewhere do not run it.
  ok(home, ['write', 'h:/etc/other'], 'x');
  ok(home, ['write', 'h:/etc/app2'], 'x'); // a sibling whose name starts the same
  await idle(home, 'h', 'app');
  assert.equal(runs(log).length, 1, 'writes outside /etc/app do not run it');

  // A burst of 100 writes (through the control socket, as fast as the node takes them: far
  // less than the debounce apart, even on a busy machine).
  const sock = controlSocketPath(home, 'h');
  for (let i = 0; i < 100; i++) await callControl(sock, 'write', ['/etc/app/conf', { base64: Buffer.from(`b${i}`).toString('base64') }]);
  await idle(home, 'h', 'app');
  await idle(home, 'h', 'serial');
  const serialRuns = runs(join(home, 'serial.log'));
  assert.ok(serialRuns.length >= 2, `the undebounced hook ran ${serialRuns.length} times`);
  assert.ok(!serialRuns.includes('OVERLAP'), 'no two runs of one hook at once');
  const burst = runs(log).slice(1);
  assert.ok(burst.length >= 1 && burst.length <= 5, `a burst of 100 writes ran it ${burst.length} times`);
  assert.equal(burst[burst.length - 1].split(' ')[1], 'b99', 'its last run saw the final content');

  // Stopped while five writes happen (the CLI writes the stopped log): one run after start.
  ok(home, ['stop', 'h']);
  for (let i = 1; i <= 5; i++) ok(home, ['write', 'h:/etc/app/conf'], `down${i}`);
  const before = runs(log).length;
  startNode(t, home, 'h');
  await until('a run after the restart', () => runs(log).length > before);
  await idle(home, 'h', 'app');
  assert.deepEqual(runs(log).slice(before), ['1 down5'], 'one run, the final content');
  const h = list(home, 'h').find((x) => x.name === 'app')!;
  assert.equal(h.last!.status, 'ok');
  assert.equal(h.failures, 0);

  // hook run: now, with the result.
  const now = ok(home, ['hook', 'run', 'h', 'app']);
  assert.match(now, /^hook app: ok \(exit 0\) in \d+ ms/);
  assert.equal(runs(log).slice(-1)[0], '1 down5');
  ok(home, ['hook', 'rm', 'h', 'app']);
  ok(home, ['write', 'h:/etc/app/conf'], 'after-rm');
  assert.deepEqual(list(home, 'h').map((x) => x.name), ['serial']);
  ok(home, ['stop', 'h']);
});

test('hooks: a missing command, a failing one, a hang and megabytes of output are reported, bounded', { timeout: 300_000 }, async (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'b']);
  ok(home, ['hook', 'add', 'b:/', '--name', 'missing', '--', '/nonexistent/reload']);
  ok(home, ['hook', 'add', 'b:/', '--name', 'fails', '--', 'sh', '-c', 'echo broken config >&2; exit 3']);
  ok(home, ['hook', 'add', 'b:/', '--name', 'hangs', '--timeout', '1', '--', 'sleep', '600']);
  ok(home, ['hook', 'add', 'b:/', '--name', 'talks', '--', 'sh', '-c', 'head -c 5000000 /dev/zero | tr "\\0" x; echo; echo the end']);
  startNode(t, home, 'b');
  ok(home, ['write', 'b:/x'], 'x');
  const by = (n: string) => list(home, 'b').find((h) => h.name === n)!;
  await until('every hook to have run', () => ['missing', 'fails', 'hangs', 'talks'].every((n) => by(n).last));
  assert.equal(by('missing').last!.status, 'error');
  assert.match(by('missing').last!.message, /command not found: \/nonexistent\/reload/);
  assert.equal(by('fails').last!.status, 'failed');
  assert.match(by('fails').last!.message, /exit 3/);
  assert.match(by('fails').last!.tail, /broken config/);
  assert.equal(by('hangs').last!.status, 'timeout');
  assert.match(by('hangs').last!.message, /timed out after 1 s/);
  const talks = by('talks').last!;
  assert.equal(talks.status, 'ok');
  assert.equal(talks.outputBytes, 5_000_000 + 1 + 8);
  assert.ok(talks.tail.length <= 4096 && talks.tail.endsWith('the end\n'), 'only the tail is kept');
  // Failures are retried (with backoff) and status names a hook that keeps failing.
  await until('the failing hook to fail three times in a row', () => by('fails').failures >= 3);
  assert.match(ok(home, ['status', 'b']), /hook +fails keeps failing: \d+ runs in a row, last exit 3/);
  const human = ok(home, ['hook', 'list', 'b']);
  assert.match(human, /^missing +b:\/ /m);
  assert.match(human, /\| broken config/);
  const runNow = basefs(home, ['hook', 'run', 'b', 'fails']);
  assert.equal(runNow.code, 1);
  assert.match(runNow.stdout, /hook fails: failed \(exit 3\)/);
  // The node is unaffected: it still answers and writes.
  ok(home, ['write', 'b:/y'], 'y');
  ok(home, ['stop', 'b']);
});
