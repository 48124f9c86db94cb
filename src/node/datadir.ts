import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { sha256 } from '../crypto/hash.ts';
import { UserError } from '../errors/errors.ts';
import { writeFileAtomic } from '../crypto/keyfile.ts';

// Layout of a data directory (default ~/.basefs, or --data-dir / BASEFS_HOME):
//   id_ed25519                 the local private key (0600)
//   fs/<name>/log/             the classic-level log
//   fs/<name>/chunks/          the chunk store
//   fs/<name>/node.json        port, last mountpoint (local settings, not replicated)
//   fs/<name>/run/control.sock the control socket of a running node (dir 0700, socket 0600)
export function homeDir(opt?: string): string {
  return resolve(opt ?? process.env.BASEFS_HOME ?? join(homedir(), '.basefs'));
}

export function defaultKeyPath(home: string, opt?: string): string {
  return resolve(opt ?? (process.env.BASEFS_KEY || undefined) ?? join(home, 'id_ed25519')); // empty = unset
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new UserError(`bad filesystem name "${name}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
}

export function fsDir(home: string, name: string): string {
  checkName(name);
  return join(home, 'fs', name);
}

export function controlSocketPath(home: string, name: string): string {
  return join(fsDir(home, name), 'run', 'control.sock');
}

// Stable per name, 10000-19999, so `get NAME IP` works without a port.
export function defaultPort(name: string): number {
  const h = sha256(Buffer.from(name));
  return 10000 + (((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0) % 10000;
}

export interface NodeSettings {
  port?: number;
  mountpoint?: string;
  lastUpdate?: number;
}

export function readSettings(home: string, name: string): NodeSettings {
  const p = join(fsDir(home, name), 'node.json');
  if (!existsSync(p)) return {};
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return {};
  }
}

export function writeSettings(home: string, name: string, s: NodeSettings): void {
  writeFileAtomic(join(fsDir(home, name), 'node.json'), JSON.stringify(s, null, 2) + '\n', 0o600);
}

export function listNames(home: string): string[] {
  const d = join(home, 'fs');
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((n) => NAME_RE.test(n) && existsSync(join(d, n, 'log'))).sort();
}

export function requireFs(home: string, name: string): string {
  const d = fsDir(home, name);
  if (!existsSync(join(d, 'log'))) {
    const known = listNames(home);
    throw new UserError(`no filesystem "${name}" in ${home}${known.length ? ` (known: ${known.join(', ')})` : ''}; create it with basefs bootstrap ${name} or fetch it with basefs get ${name} ADDR`);
  }
  return d;
}

export function ensureDir(p: string, mode = 0o700): void {
  mkdirSync(p, { recursive: true, mode });
}
