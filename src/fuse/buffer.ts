import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

// The write buffer of one open file: the file's whole content while it is being written.
// Small files live in memory; a file grows into a temp file in the filesystem's directory
// once it is larger than MEM_FILE_MAX, or when all buffers together hold more than
// MEM_TOTAL_MAX, so a 1 GiB write costs disk, not memory.
export const MEM_FILE_MAX = 4 * 1024 * 1024;
export const MEM_TOTAL_MAX = 64 * 1024 * 1024;

let memTotal = 0;
let seq = 0;

export function memoryInBuffers(): number {
  return memTotal;
}

export class WriteBuffer {
  size = 0;
  private mem: Buffer | null = Buffer.alloc(0);
  private fh: FileHandle | null = null;
  private tmpPath: string | null = null;
  private tmpDir: string;

  constructor(tmpDir: string) {
    this.tmpDir = tmpDir;
  }

  get inMemory(): boolean {
    return this.mem !== null;
  }

  get file(): string | null {
    return this.tmpPath;
  }

  private async spill(): Promise<void> {
    if (!this.mem) return;
    const p = join(this.tmpDir, `w${process.pid}-${++seq}-${Date.now().toString(36)}`);
    const fh = await open(p, 'wx+', 0o600); // exclusive: never an existing file or a symlink
    try {
      if (this.size > 0) await fh.write(this.mem, 0, this.size, 0);
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(p).catch(() => {});
      throw e;
    }
    memTotal -= this.mem.length;
    this.mem = null;
    this.fh = fh;
    this.tmpPath = p;
  }

  // Makes room in memory for `end` bytes, or moves to a temp file.
  private async reserve(end: number): Promise<void> {
    if (!this.mem) return;
    if (end <= this.mem.length) return;
    if (end > MEM_FILE_MAX) return this.spill();
    let cap = Math.max(4096, this.mem.length);
    while (cap < end) cap *= 2;
    cap = Math.min(cap, MEM_FILE_MAX);
    if (memTotal + cap - this.mem.length > MEM_TOTAL_MAX) return this.spill();
    const next = Buffer.alloc(cap);
    this.mem.copy(next, 0, 0, this.size);
    memTotal += cap - this.mem.length;
    this.mem = next;
  }

  async write(src: Uint8Array, len: number, pos: number): Promise<void> {
    const end = pos + len;
    await this.reserve(end);
    if (this.mem) {
      // bytes between size and pos are zero: truncate() zeroes what it cuts off
      this.mem.set(src.subarray(0, len), pos);
    } else {
      let done = 0;
      while (done < len) {
        const { bytesWritten } = await this.fh!.write(src, done, len - done, pos + done);
        done += bytesWritten;
      }
    }
    if (end > this.size) this.size = end;
  }

  async read(dst: Buffer, len: number, pos: number): Promise<number> {
    const n = Math.max(0, Math.min(len, this.size - pos));
    if (n === 0) return 0;
    if (this.mem) {
      this.mem.copy(dst, 0, pos, pos + n);
      return n;
    }
    let done = 0;
    while (done < n) {
      const { bytesRead } = await this.fh!.read(dst, done, n - done, pos + done);
      if (bytesRead === 0) {
        dst.fill(0, done, n); // a hole the temp file has not materialized
        break;
      }
      done += bytesRead;
    }
    return n;
  }

  async truncate(n: number): Promise<void> {
    if (this.mem && n > this.mem.length) await this.reserve(n);
    if (this.mem) {
      if (n < this.size) this.mem.fill(0, n, this.size); // keeps "beyond size is zero"
    } else {
      await this.fh!.truncate(n);
    }
    this.size = n;
  }

  // The content as one buffer (memory) or a file path to stream from (temp file).
  async content(): Promise<{ buffer: Uint8Array } | { file: string }> {
    if (this.mem) return { buffer: this.mem.subarray(0, this.size) };
    return { file: this.tmpPath! };
  }

  async dispose(): Promise<void> {
    if (this.mem) {
      memTotal -= this.mem.length;
      this.mem = null;
    }
    if (this.fh) {
      const fh = this.fh;
      this.fh = null;
      await fh.close().catch(() => {});
    }
    if (this.tmpPath) {
      await unlink(this.tmpPath).catch(() => {});
      this.tmpPath = null;
    }
  }
}
