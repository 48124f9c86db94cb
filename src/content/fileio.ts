import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

// File I/O the chunk store builds on: complete writes at a position (a short write is not an
// error for the kernel, it is for us), reading a file ahead in reused buffers, syncing a
// directory entry.

const IOV_MAX = 1024;

// What the reader of readPieces is still using: a buffer it holds is not reused.
export interface IngestCtx { inUse: (ab: ArrayBufferLike) => boolean }

export async function writeAll(fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, pos + done);
    if (bytesWritten <= 0) throw new Error('write wrote nothing');
    done += bytesWritten;
  }
}

// writev of many buffers at a position, coping with IOV_MAX and short writes.
export async function writevAll(fh: FileHandle, bufs: Uint8Array[], pos: number): Promise<void> {
  let i = 0;
  while (i < bufs.length) {
    const group = bufs.slice(i, i + IOV_MAX);
    let total = 0;
    for (const b of group) total += b.length;
    let written = 0;
    while (written < total) {
      let rest: Uint8Array[] = group;
      if (written > 0) {
        rest = [];
        let skip = written;
        for (const b of group) {
          if (skip >= b.length) { skip -= b.length; continue; }
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
      }
      const { bytesWritten } = await fh.writev(rest as NodeJS.ArrayBufferView[], pos + written);
      if (bytesWritten <= 0) throw new Error('writev wrote nothing');
      written += bytesWritten;
    }
    pos += total;
    i += IOV_MAX;
  }
}

// Reads a file in 1 MiB pieces with one read ahead, into a small ring of buffers reused once
// nothing refers to them any more (fresh memory costs a page fault per 4 KiB).
export async function* readPieces(fh: FileHandle, size: number, ctx: IngestCtx): AsyncGenerator<Uint8Array> {
  const SIZE = Math.max(4096, Math.min(1 << 20, size));
  const ring: Buffer[] = [];
  let next = 0;
  const take = (current: Buffer | null): Buffer => {
    for (let k = 0; k < ring.length; k++) {
      const b = ring[next];
      next = (next + 1) % ring.length;
      if (b !== current && !ctx.inUse(b.buffer)) return b;
    }
    const b = Buffer.allocUnsafeSlow(SIZE);
    if (ring.length < 8) ring.push(b);
    return b;
  };
  const issue = (at: number, current: Buffer | null) => fh.read(take(current), 0, SIZE, at);
  let pos = 0;
  let cur = issue(0, null);
  try {
    for (;;) {
      const { bytesRead, buffer } = await cur;
      if (bytesRead === 0) return;
      pos += bytesRead;
      cur = issue(pos, buffer); // read ahead while the caller works on this piece
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await cur.catch(() => {});
  }
}

export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
