import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Kind } from '../log/entry.ts';
import type { Draft } from '../log/sign.ts';
import { normalizePath } from '../log/path.ts';
import { UserError } from '../errors/errors.ts';
import { bytesEqual } from '../crypto/hash.ts';
import type { Filesystem } from './filesystem.ts';

// Copying a local directory tree into a filesystem (`basefs write -r`): the CLI walks the tree
// and sends it in chunks; each chunk is stored with the content of its files written
// concurrently (the chunk store shares their syncs) and all its entries in one durable append.

export interface TreeItem {
  rel: string; // path below the destination, '' for the destination itself
  type: 'dir' | 'file' | 'symlink';
  local?: string; // absolute path of a local file
  mode: number;
  mtime: number;
  target?: string;
}

export interface TreeWalk {
  items: TreeItem[];
  bytes: number;
  skipped: string[]; // sockets, FIFOs, devices: nothing to copy
}

export async function walkLocalTree(root: string): Promise<TreeWalk> {
  const st = await lstat(root).catch(() => null);
  if (!st) throw new UserError(`no such directory: ${root}`);
  if (!st.isDirectory()) throw new UserError(`not a directory: ${root} (write -r copies a directory; give a file without -r)`);
  const out: TreeWalk = { items: [{ rel: '', type: 'dir', mode: st.mode & 0o7777, mtime: Math.round(st.mtimeMs) }], bytes: 0, skipped: [] };
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const r = rel ? rel + '/' + name : name;
      const s = await lstat(abs);
      const base = { rel: r, mode: s.mode & 0o7777, mtime: Math.round(s.mtimeMs) };
      if (s.isDirectory()) {
        out.items.push({ ...base, type: 'dir' });
        await walk(abs, r);
      } else if (s.isFile()) {
        out.items.push({ ...base, type: 'file', local: abs });
        out.bytes += s.size;
      } else if (s.isSymbolicLink()) out.items.push({ ...base, type: 'symlink', target: await readlink(abs) });
      else out.skipped.push(abs);
    }
  };
  await walk(root, '');
  return out;
}

// Stores one chunk of a tree under `dest`: directories that exist stay, files and links are
// written as new versions. Returns the entries made and the bytes of content stored.
export async function writeTreeChunk(fs: Filesystem, dest: string, items: TreeItem[]): Promise<{ entries: number; bytes: number }> {
  const d = normalizePath(dest);
  const key = fs.requireKey();
  const at = (rel: string) => (rel ? (d === '/' ? '/' + rel : d + '/' + rel) : d);
  for (const it of items) {
    const c = fs.state.canWrite(key.publicKey, at(it.rel));
    if (!c.ok) throw new UserError(c.reason, 'EACCES'); // before storing any content
  }
  const refs = new Map<TreeItem, { root: Uint8Array; size: number }>();
  let bytes = 0;
  const files = items.filter((it) => it.type === 'file');
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, async () => {
    while (next < files.length) {
      const it = files[next++];
      const ref = await fs.content.writeFile(it.local!).catch((e: Error) => {
        throw new UserError(`cannot read ${it.local}: ${e.message}`);
      });
      refs.set(it, ref);
      bytes += ref.size;
    }
  }));
  const drafts: Draft[] = [];
  const dirs = new Set<string>();
  // The destination is created with its missing parents, like mkdir -p.
  if (items.some((it) => it.rel === '')) {
    const parts = d.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      const cur = fs.state.lookup(p);
      if (cur && cur.type !== 'dir') throw new UserError(`${fs.name}:${p} exists and is not a directory`, 'ENOTDIR');
      if (!cur || cur.entryId === '') {
        drafts.push({ kind: Kind.MKDIR, path: p, mode: 0o755 });
        dirs.add(p);
      }
    }
  }
  for (const it of items) {
    const p = at(it.rel);
    const cur = fs.state.lookup(p);
    if (it.type === 'dir') {
      if (cur?.type === 'dir') continue;
      if (cur) throw new UserError(`${fs.name}:${p} exists and is not a directory; remove it first or copy elsewhere`, 'EEXIST');
      drafts.push({ kind: Kind.MKDIR, path: p, mode: it.mode });
      dirs.add(p);
      continue;
    }
    if (cur?.type === 'dir') throw new UserError(`${fs.name}:${p} is a directory; ${it.local ?? it.rel} cannot replace it`, 'EISDIR');
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    if (!dirs.has(parent) && fs.state.lookup(parent)?.type !== 'dir') throw new UserError(`no such directory: ${fs.name}:${parent}`, 'ENOENT');
    // What is already there as given is not written again (a second copy of the same tree makes no entries).
    if (it.type === 'symlink') {
      if (cur?.type !== 'symlink' || cur.target !== it.target) drafts.push({ kind: Kind.SYMLINK, path: p, target: it.target! });
    } else {
      const ref = refs.get(it)!;
      const same = cur?.type === 'file' && cur.root && bytesEqual(cur.root, ref.root) && cur.mode === it.mode && cur.mtime === it.mtime;
      if (!same) drafts.push({ kind: Kind.WRITE, path: p, root: ref.root, size: ref.size, mode: it.mode, mtime: it.mtime });
    }
  }
  await fs.commitMany(drafts);
  return { entries: drafts.length, bytes };
}
