import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../crypto/atomic.ts';
import { fsDir } from './datadir.ts';
import { UserError } from '../errors/errors.ts';

// Hooks are local configuration of one node, owner-only: fs/<name>/hooks.json, mode 0600, in
// the 0700 data directory, written atomically. Nothing in the log or from a peer reads or
// writes it; a peer can only make a hook run through a valid change under its path. While a
// node runs it owns the file (the CLI changes hooks through its control socket); otherwise
// the CLI edits it directly.

export interface RunResult {
  at: string; // ISO start time
  trigger: 'change' | 'manual';
  status: 'ok' | 'failed' | 'timeout' | 'error';
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  outputBytes: number; // stdout + stderr, all of it
  tail: string; // the last TAIL_BYTES of it
  paths: number; // changed paths it was told about
  cursor: number; // journal cursor it covered
  message: string; // one line for the node's log and hook list
}

export interface Hook {
  name: string;
  path: string;
  cmd: string[];
  debounceMs: number;
  timeoutSec: number;
  cwd: string; // where `hook add` was run; the command runs there
  cursor: number; // journal cursor of the last change handled
  failures: number; // consecutive failed runs
  last: RunResult | null;
}

export const DEFAULT_DEBOUNCE_MS = 500;
export const DEFAULT_TIMEOUT_SEC = 60;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function hooksFile(home: string, name: string): string {
  return join(fsDir(home, name), 'hooks.json');
}

export function readHooks(home: string, name: string): Hook[] {
  const f = hooksFile(home, name);
  if (!existsSync(f)) return [];
  try {
    const o = JSON.parse(readFileSync(f, 'utf8'));
    if (!Array.isArray(o?.hooks)) throw new Error('no "hooks" list');
    return o.hooks as Hook[];
  } catch (e) {
    throw new UserError(`the hook configuration ${f} is damaged (${(e as Error).message}); fix or remove it (hooks are local to this node and can be added again with basefs hook add)`);
  }
}

export function writeHooks(home: string, name: string, hooks: Hook[]): void {
  writeFileAtomic(hooksFile(home, name), JSON.stringify({ version: 1, hooks }, null, 2) + '\n', 0o600);
}

export interface HookSpec {
  name?: string;
  path: string;
  cmd: string[];
  debounceMs?: number;
  timeoutSec?: number;
  cwd: string;
}

// A new hook from what the user gave (checked here, for the CLI and the control socket alike).
export function newHook(s: HookSpec, existing: Hook[], cursor: number): Hook {
  if (!Array.isArray(s.cmd) || s.cmd.length === 0 || s.cmd.some((a) => typeof a !== 'string') || !s.cmd[0]) {
    throw new UserError('hook add needs a command after --: basefs hook add NAME:/PATH -- CMD [ARGS...]');
  }
  const debounceMs = s.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  if (!Number.isInteger(debounceMs) || debounceMs < 0 || debounceMs > 3_600_000) throw new UserError(`bad --debounce ${s.debounceMs}: give milliseconds, 0-3600000`);
  const timeoutSec = s.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0 || timeoutSec > 86_400) throw new UserError(`bad --timeout ${s.timeoutSec}: give seconds, more than 0, at most 86400`);
  let name = s.name;
  if (name === undefined) {
    const base = (s.cmd[0].split('/').pop() || 'hook').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 56) || 'hook';
    name = base;
    for (let i = 2; existing.some((h) => h.name === name); i++) name = `${base}-${i}`;
  }
  if (!NAME_RE.test(name)) throw new UserError(`bad hook name "${name}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  if (existing.some((h) => h.name === name)) throw new UserError(`a hook named ${name} already exists; remove it first (basefs hook rm) or choose another --name`, 'EEXIST');
  return { name, path: s.path, cmd: s.cmd, debounceMs, timeoutSec, cwd: s.cwd, cursor, failures: 0, last: null };
}

export function findHook(hooks: Hook[], name: string, fsName: string): Hook {
  const h = hooks.find((x) => x.name === name);
  if (!h) throw new UserError(`no hook named ${name} on ${fsName}${hooks.length ? ` (hooks: ${hooks.map((x) => x.name).join(', ')})` : ''}; see basefs hook list ${fsName}`, 'ENOENT');
  return h;
}
