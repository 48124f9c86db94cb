import { mkdirSync, constants } from 'node:fs';
import { open, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LostMeta {
  path: string; // the path in the filesystem the bytes were written to
  mode: number;
  mtime: number;
  size: number;
  error: string;
}

// The bytes to keep: in memory, in a temp file, or stored content read back piece by piece.
export type LostContent = { buffer: Uint8Array } | { file: string } | { size: number; read(offset: number, length: number): Promise<Uint8Array> };

const STEP = 4 * 1024 * 1024;
let seq = 0;

// Keeps the bytes of a closed file whose commit failed (nobody can be told any more) in DIR:
// NAME holds the bytes, NAME.json the original path, mode, mtime, size and the error. NAME is
// generated (time, pid, counter: short, ASCII, unique), never taken from the file, so nothing
// the original name carried (its length, its bytes) can make the rescue fail. Returns NAME's
// full path. See docs/FUSE.md.
export async function saveLost(dir: string, content: LostContent, meta: LostMeta): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (;;) {
    const dest = join(dir, `${stamp}-${process.pid}-${++seq}`);
    try {
      await write(dest, content);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue; // a name left by an earlier run
      throw e;
    }
    const info = { ...meta, mode: '0' + (meta.mode & 0o7777).toString(8), mtime: new Date(meta.mtime).toISOString(), savedAt: new Date().toISOString() };
    await writeFile(dest + '.json', JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    return dest;
  }
}

async function write(dest: string, c: LostContent): Promise<void> {
  if ('file' in c) return copyFile(c.file, dest, constants.COPYFILE_EXCL);
  const fh = await open(dest, 'wx', 0o600);
  try {
    if ('buffer' in c) await fh.writeFile(c.buffer);
    else {
      for (let off = 0; off < c.size; off += STEP) {
        const data = await c.read(off, Math.min(STEP, c.size - off));
        await fh.write(data, 0, data.length, off);
      }
    }
  } finally {
    await fh.close();
  }
}
