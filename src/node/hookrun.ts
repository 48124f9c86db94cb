import { spawn } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../crypto/atomic.ts';
import type { Hook, RunResult } from './hookconfig.ts';

// One run of a hook's command: no shell (the argv the user gave), in its own process group so
// a timeout kills what it started too, with the output kept to its last TAIL_BYTES (a hook
// printing megabytes costs the node nothing more).
export const TAIL_BYTES = 4096;
const KILL_GRACE_MS = 5000;
const INLINE_PATHS = 100; // more changed paths than this: only BASEFS_PATHS_FILE lists them
const INLINE_BYTES = 32 * 1024;

export interface RunContext {
  fsName: string;
  home: string;
  mount: string; // '' when not mounted
  runDir: string; // where the list of paths is written (0700)
  paths: string[]; // changed paths (escaped: one per line)
  cursor: number;
  trigger: RunResult['trigger'];
  signal?: AbortSignal; // the node is stopping: end the run now (as a timeout would)
}

// Paths come from other people: a control character (a newline in a name) is shown as \xNN, a
// backslash as \\, so one path is one line.
function escPath(p: string): string {
  return p.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) => (c === '\\' ? '\\\\' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')));
}

export function runHook(h: Hook, ctx: RunContext): Promise<RunResult> {
  const started = Date.now();
  const lines = ctx.paths.map(escPath);
  const listFile = join(ctx.runDir, `hook-${h.name}-${randomBytes(6).toString('hex')}.paths`);
  writeFileAtomic(listFile, lines.map((l) => l + '\n').join(''), 0o600);
  const inline = lines.length <= INLINE_PATHS && lines.reduce((n, l) => n + l.length + 1, 0) <= INLINE_BYTES;
  const env = {
    ...process.env,
    BASEFS_NAME: ctx.fsName,
    BASEFS_HOME: ctx.home,
    BASEFS_MOUNT: ctx.mount,
    BASEFS_HOOK: h.name,
    BASEFS_PATH: h.path,
    BASEFS_PATHS: inline ? lines.join('\n') : '',
    BASEFS_PATHS_FILE: listFile,
    BASEFS_CHANGES: String(lines.length),
    BASEFS_CURSOR: String(ctx.cursor),
    BASEFS_TRIGGER: ctx.trigger,
  };
  return new Promise((resolve) => {
    let tail = Buffer.alloc(0);
    let outputBytes = 0;
    let timedOut = false;
    let done = false;
    const onData = (d: Buffer) => {
      outputBytes += d.length;
      tail = tail.length + d.length <= TAIL_BYTES ? Buffer.concat([tail, d]) : Buffer.concat([tail, d]).subarray(-TAIL_BYTES);
    };
    const finish = (r: Omit<RunResult, 'at' | 'trigger' | 'durationMs' | 'outputBytes' | 'tail' | 'paths' | 'cursor'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(killer);
      try { unlinkSync(listFile); } catch { /* gone */ }
      resolve({ at: new Date(started).toISOString(), trigger: ctx.trigger, durationMs: Date.now() - started, outputBytes, tail: tail.toString('utf8'), paths: lines.length, cursor: ctx.cursor, ...r });
    };
    const cwd = existsSync(h.cwd) ? h.cwd : '/';
    const child = spawn(h.cmd[0], h.cmd.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const group = (sig: NodeJS.Signals) => {
      try { process.kill(-child.pid!, sig); } catch { /* gone */ }
    };
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      group('SIGTERM');
      killer = setTimeout(() => group('SIGKILL'), KILL_GRACE_MS);
    }, h.timeoutSec * 1000);
    const abort = () => {
      group('SIGTERM');
      killer = setTimeout(() => group('SIGKILL'), KILL_GRACE_MS);
    };
    if (ctx.signal?.aborted) abort();
    else ctx.signal?.addEventListener('abort', abort, { once: true });
    child.once('error', (e: NodeJS.ErrnoException) => {
      const what = e.code === 'ENOENT' ? 'command not found' : e.code === 'EACCES' ? 'permission denied (not executable?)' : e.message;
      finish({ status: 'error', exitCode: null, signal: null, message: `${what}: ${h.cmd[0]}; fix the hook: basefs hook rm ${ctx.fsName} ${h.name}, then hook add again` });
    });
    // 'close' waits for the output pipes: a background child that keeps them open must not
    // hold the hook, so the exit counts, and the pipes are dropped shortly after.
    child.once('exit', (code, signal) => {
      ctx.signal?.removeEventListener('abort', abort);
      const status: RunResult['status'] = timedOut ? 'timeout' : code === 0 ? 'ok' : 'failed';
      const stopped = ctx.signal?.aborted && code !== 0 ? ' (the node was stopping)' : '';
      const message = (timedOut ? `timed out after ${h.timeoutSec} s (killed)` : code === 0 ? 'exit 0' : code !== null ? `exit ${code}` : `killed by ${signal}`) + stopped;
      const end = () => finish({ status, exitCode: code, signal, message });
      child.once('close', end);
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        end();
      }, 1000).unref();
    });
  });
}
