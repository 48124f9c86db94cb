import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { homeDir, defaultKeyPath, requireFs, controlSocketPath, listNames, readSettings, checkName } from '../node/datadir.ts';
import { loadKeyFile } from '../crypto/keyfile.ts';
import { privateKeyToPem, type KeyPair } from '../crypto/keys.ts';
import { Filesystem } from '../node/filesystem.ts';
import { FsApi, API_METHODS, type ApiMethod } from '../node/api.ts';
import { callControl, controlAlive } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import { normalizePath } from '../log/path.ts';

export interface Globals {
  dataDir?: string;
  key?: string;
  json?: boolean;
}

export function globals(cmd: Command): Globals {
  return cmd.optsWithGlobals() as Globals;
}

export function home(g: Globals): string {
  return homeDir(g.dataDir);
}

export function keyPath(g: Globals): string {
  return defaultKeyPath(home(g), g.key);
}

export function loadKey(g: Globals): KeyPair {
  return loadKeyFile(keyPath(g));
}

// Whether the user chose a key (--key or BASEFS_KEY) rather than the default one.
export function explicitKey(g: Globals): boolean {
  return !!g.key || !!process.env.BASEFS_KEY;
}

// The key if there is one: read-only commands work without a key. A key the user named must
// exist.
export function maybeKey(g: Globals): KeyPair | null {
  const p = keyPath(g);
  if (!existsSync(p) && !explicitKey(g)) return null;
  return loadKeyFile(p);
}

// FsApi's calls take and return JSON values only, so over the control socket they have the
// same types as in-process.
export type Api = Pick<FsApi, ApiMethod>;

// Runs fn against the filesystem: through the running node's control socket when there is
// one (the node holds the log), otherwise on the log directly.
export async function withApi<T>(g: Globals, name: string, fn: (api: Api, remote: boolean) => Promise<T>): Promise<T> {
  const h = home(g);
  checkName(name);
  requireFs(h, name);
  const sock = controlSocketPath(h, name);
  if (await controlAlive(sock)) {
    // Act as the key the user named, not as the node's: its private key goes to the node over
    // the owner-only control socket for each request and is not kept there.
    const pem = explicitKey(g) ? privateKeyToPem(loadKey(g).privateKey) : undefined;
    const proxy = {} as Api;
    const calls = proxy as unknown as Record<ApiMethod, (...args: unknown[]) => Promise<unknown>>;
    for (const m of API_METHODS) calls[m] = (...args) => callControl(sock, m, args, undefined, pem);
    return fn(proxy, true);
  }
  // Lazy: ls and cat answer from the stored view without replaying the log.
  const fs = await Filesystem.open(h, name, maybeKey(g), { lazy: true, notice: (m) => process.stderr.write(`basefs: ${m}\n`) });
  try {
    return await fn(new FsApi(fs) as unknown as Api, false);
  } finally {
    await fs.close();
  }
}

// "NAME:PATH" (rather than a path on this machine).
export function isNamed(t: string): boolean {
  const i = t.indexOf(':');
  return i > 0 && !t.startsWith('/') && !t.startsWith('.');
}

// A path inside a filesystem, the same way for every command: it must start with / (a
// relative one has nothing to be relative to), and is canonicalized ("//a/./b/" -> "/a/b");
// "..", NUL and over-long paths are refused. `what` is the user's text, for the message.
export function fsPath(p: string, what: string): string {
  if (!p.startsWith('/')) throw new UserError(`${what}: a path inside a filesystem starts with / (e.g. NAME:/${p})`);
  try {
    return normalizePath(p);
  } catch (e) {
    throw new UserError(`${what}: ${(e as Error).message}`);
  }
}

// "NAME:/PATH", "NAME" (= NAME:/) or a path inside a mounted filesystem.
export function parseTarget(g: Globals, t: string): { name: string; path: string } {
  if (isNamed(t)) {
    const i = t.indexOf(':');
    const name = t.slice(0, i);
    checkName(name);
    return { name, path: fsPath(t.slice(i + 1) || '/', t) };
  }
  if (t.startsWith('/') || t.startsWith('.')) {
    const abs = resolve(t);
    const h = home(g);
    for (const name of listNames(h)) {
      const mp = readSettings(h, name).mountpoint;
      if (mp && (abs === mp || abs.startsWith(mp + '/'))) return { name, path: abs === mp ? '/' : abs.slice(mp.length) };
    }
    throw new UserError(`${t} is not inside a mounted basefs filesystem; use NAME:/PATH`);
  }
  checkName(t);
  return { name: t, path: '/' };
}
