import { closeSync, constants, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

// Atomic replace of a file: write a temp file next to it, fsync, rename over it, fsync the
// directory. The temp file is ours alone even in a directory others can write: its name is
// unpredictable, it is created exclusively (O_EXCL: never an existing file, never through a
// symlink) and not through a symlink (O_NOFOLLOW), and its mode is set on the descriptor (the
// umask and a pre-existing file cannot widen it). rename() replaces a symlink at `path`
// instead of following it.
const FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempNameFor(path);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = openSync(tmp, FLAGS, mode & 0o600);
  try {
    fchmodSync(fd, mode);
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw e;
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw e;
  }
  syncDirSync(dirname(path));
}

export async function writeFileAtomicAsync(path: string, data: Uint8Array, mode: number, sync = true): Promise<void> {
  const tmp = tempNameFor(path);
  const fh = await open(tmp, FLAGS, mode & 0o600);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    if (sync) await fh.datasync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

function syncDirSync(dir: string): void {
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems cannot fsync a directory */ }
}
