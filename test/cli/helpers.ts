import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASEFS = fileURLToPath(new URL('../../bin/basefs', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Runs the real CLI as a user would, with its own data dir.
export function basefs(home: string, args: string[], input?: string | Buffer, env: Record<string, string> = {}): Run {
  const r = spawnSync(BASEFS, ['--data-dir', home, ...args], { input, env: { ...process.env, BASEFS_KEY: '', ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function ok(home: string, args: string[], input?: string | Buffer): string {
  const r = basefs(home, args, input);
  if (r.code !== 0) throw new Error(`basefs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export function tmpHome(t: { after: (fn: () => void) => void }, prefix = 'basefs-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export { spawn };
