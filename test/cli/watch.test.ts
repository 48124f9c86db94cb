// Issue 18: `basefs watch` through a real background node: live changes, --since replaying
// exactly the changes after a cursor across a node restart (with changes made while it was
// down), and clear refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BASEFS, basefs, ok, tmpHome } from './helpers.ts';

interface Row { cursor: number; path: string; op: string; kind: string; type: string }

function startNode(t: { after: (fn: () => void) => void }, home: string, name: string): number {
  const run = basefs(home, ['run', name, '--port', '0', '--host', '127.0.0.1', '--no-mdns']);
  assert.equal(run.code, 0, run.stderr);
  const pid = Number(/\(pid (\d+),/.exec(run.stdout)![1]);
  t.after(() => {
    try { process.kill(pid, 'SIGKILL'); } catch { /* stopped */ }
  });
  return pid;
}

function rows(home: string, args: string[]): Row[] {
  return ok(home, ['--json', 'watch', ...args, '--no-follow']).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('watch: live, --since across a node restart gives exactly the changes after the cursor', { timeout: 240_000 }, async (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'w']);
  const none = basefs(home, ['watch', 'w']);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no node is running for w: .*basefs run w/);

  startNode(t, home, 'w');
  ok(home, ['mkdir', 'w:/etc']);
  ok(home, ['write', 'w:/etc/a'], 'one');
  // A live watcher of /etc sees a later write under /etc, not one elsewhere.
  const outFile = join(home, 'live.txt');
  const fd = openSync(outFile, 'w');
  const live = spawn(BASEFS, ['--data-dir', home, 'watch', 'w:/etc'], { stdio: ['ignore', fd, fd], env: { ...process.env, BASEFS_KEY: '' } });
  closeSync(fd);
  t.after(() => live.kill('SIGKILL'));
  // The watcher has started once a write made now reaches it: write until one does.
  await until('the live watcher to see /etc/b', () => {
    if (!readFileSync(outFile, 'utf8').includes('/etc/b')) ok(home, ['write', 'w:/etc/b'], 'b');
    return readFileSync(outFile, 'utf8').includes('/etc/b');
  });
  ok(home, ['write', 'w:/elsewhere'], 'x');
  ok(home, ['write', 'w:/etc/c'], 'c');
  await until('the live watcher to see /etc/c', () => readFileSync(outFile, 'utf8').includes('/etc/c'));
  assert.doesNotMatch(readFileSync(outFile, 'utf8'), /elsewhere/);
  assert.match(readFileSync(outFile, 'utf8'), /^\d+\tcreated\t\/etc\/c\tfile WRITE [0-9a-f]{12} by [0-9a-f]{16}$/m);

  const before = rows(home, ['w', '--since', '0']);
  assert.deepEqual(before.map((r) => r.cursor), before.map((_, i) => i + 1), 'cursors from 1, no gaps');
  const cursor = before[before.length - 1].cursor;

  // Stop the node; change things while it is down (the CLI appends to the log directly); start again.
  ok(home, ['stop', 'w']);
  ok(home, ['write', 'w:/etc/a'], 'two');
  ok(home, ['rm', 'w:/etc/b']);
  startNode(t, home, 'w');
  ok(home, ['write', 'w:/etc/d'], 'd');
  ok(home, ['mv', 'w:/etc/c', 'w:/etc/c2']);

  const after = rows(home, ['w', '--since', String(cursor)]);
  const said = after.map((r) => [r.op, r.path, r.kind]);
  assert.deepEqual(said.slice(0, 3), [
    ['changed', '/etc/a', 'WRITE'],
    ['removed', '/etc/b', 'DELETE'],
    ['created', '/etc/d', 'WRITE'],
  ]);
  // One entry, two changes (in one batch, in the view's order).
  assert.deepEqual(said.slice(3).sort(), [['created', '/etc/c2', 'RENAME'], ['removed', '/etc/c', 'RENAME']]);
  assert.deepEqual(after.map((r) => r.cursor), after.map((_, i) => cursor + 1 + i), 'exactly the cursors after it');
  // Resuming after the last one of those gives nothing; a path filter keeps the cursors.
  assert.deepEqual(rows(home, ['w', '--since', String(after[after.length - 1].cursor)]), []);
  assert.deepEqual(rows(home, ['w:/etc/d', '--since', String(cursor)]).map((r) => r.cursor), [cursor + 3]);

  const bad = basefs(home, ['watch', 'w', '--since', 'abc']);
  assert.match(bad.stderr, /bad cursor "abc" for --since/);
  const ahead = basefs(home, ['watch', 'w', '--since', '99999']);
  assert.notEqual(ahead.code, 0);
  assert.match(ahead.stderr, /cursor 99999 is ahead of w's journal .*--since \d+/);

  // The watcher started before the restart was told where to resume.
  await until('the live watcher to end', () => live.exitCode !== null);
  assert.match(readFileSync(outFile, 'utf8'), /the node of w stopped; resume with basefs watch --since \d+/);
  ok(home, ['stop', 'w']);
});
