import { spawn } from 'node:child_process';
import { openSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlAlive } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import { envSeconds } from '../node/env.ts';

// Starts this same command again in the foreground (-f) as a detached process, logging to
// LOGFILE, and returns once its control socket answers (or fails with the child's last words).
// A node opening a big log writes progress to LOGFILE: the wait gives up only after
// `timeoutMs` without any new output (BASEFS_START_TIMEOUT seconds, 60 by default), or after
// `maxMs` in all.
export async function daemonize(args: string[], sockPath: string, logFile: string, timeoutMs = envSeconds('BASEFS_START_TIMEOUT', 60) * 1000, maxMs = 3_600_000): Promise<number> {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const fd = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', main, ...args, '-f'], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  child.unref();
  const size = () => (existsSync(logFile) ? statSync(logFile).size : 0);
  const hardEnd = Date.now() + maxMs;
  let seen = size();
  let deadline = Date.now() + timeoutMs;
  while (Date.now() < Math.min(deadline, hardEnd)) {
    if (exited !== null) break;
    if (await controlAlive(sockPath)) return child.pid!;
    const now = size();
    if (now !== seen) {
      seen = now;
      deadline = Date.now() + timeoutMs; // still making progress
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
  if (exited === null) {
    try { process.kill(child.pid!, 'SIGTERM'); } catch { /* gone */ }
  }
  throw new UserError(`the node did not start${exited !== null ? ` (exit ${exited})` : ` (no progress for ${timeoutMs / 1000} s; BASEFS_START_TIMEOUT sets how long to wait)`}; log ${logFile}:\n${tail}`);
}

export function nodeLogPath(fsDirPath: string): string {
  return join(fsDirPath, 'node.log');
}

// Resolves when SIGINT or SIGTERM arrives (once), after running stop().
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const h = () => {
      if (done) return;
      done = true;
      // a stop that fails stays an unhandled rejection: the process exits non-zero with its error
      void stop().finally(resolve);
    };
    process.once('SIGINT', h);
    process.once('SIGTERM', h);
  });
}
