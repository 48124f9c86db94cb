import { Mutex } from '../node/mutex.ts';
import { WriteBuffer } from './buffer.ts';

export interface ContentRef {
  root: Uint8Array;
  size: number;
}

// What the FUSE layer needs from the content store (see content.ts for the adapter).
export interface ContentIO {
  read(root: Uint8Array, offset: number, length: number, label: string, cache: ReadCache): Promise<Uint8Array>;
  storeBuffer(data: Uint8Array): Promise<ContentRef>;
  storeFile(path: string): Promise<ContentRef>;
}

// Per open file: whatever the content layer wants to keep between reads (the chunk list).
export interface ReadCache {
  root?: Uint8Array;
  list?: unknown;
}

const MATERIALIZE_STEP = 1024 * 1024;

// A file open for writing on this node: one per path, shared by every handle that has the path
// open (writers, and readers that opened it while it had local changes). It starts from the
// committed content `base` and copies it into a WriteBuffer at the first change; commit turns
// the buffer into one WRITE entry.
export class DirtyFile {
  path: string;
  mode: number;
  mtime: number;
  base: ContentRef | null; // committed content the buffer started from (null: new file)
  buf: WriteBuffer | null = null; // null until the first change
  inLog: boolean; // the path has a committed version (false: created here, not yet committed)
  pending: boolean; // differs from what the log holds
  wrote = false; // write() since the last commit (flush commits only then, see docs/FUSE.md)
  writers = 0;
  refs = 0;
  hidden = false; // unlinked while open (libfuse renamed it to .fuse_hidden*): never committed
  unlinked = false;
  readonly lock = new Mutex();
  private tmpDir: string;
  private io: ContentIO;

  constructor(path: string, o: { mode: number; mtime: number; base: ContentRef | null; inLog: boolean; tmpDir: string; io: ContentIO }) {
    this.path = path;
    this.mode = o.mode;
    this.mtime = o.mtime;
    this.base = o.base;
    this.inLog = o.inLog;
    this.pending = !o.inLog;
    this.tmpDir = o.tmpDir;
    this.io = o.io;
  }

  get size(): number {
    return this.buf ? this.buf.size : (this.base?.size ?? 0);
  }

  get discarded(): boolean {
    return this.hidden || this.unlinked;
  }

  // Copies the committed content into the buffer (unless it is about to be cut to `keep`).
  private async materialize(keep = Infinity): Promise<WriteBuffer> {
    if (this.buf) return this.buf;
    const buf = new WriteBuffer(this.tmpDir);
    try {
      const b = this.base;
      const upto = b ? Math.min(b.size, keep) : 0;
      const cache: ReadCache = {};
      for (let off = 0; off < upto; off += MATERIALIZE_STEP) {
        const want = Math.min(MATERIALIZE_STEP, upto - off);
        const data = await this.io.read(b!.root, off, want, this.path, cache);
        if (data.length !== want) throw Object.assign(new Error(`short read of ${this.path} at ${off}`), { code: 'EIO' });
        await buf.write(data, data.length, off);
      }
    } catch (e) {
      await buf.dispose();
      throw e;
    }
    this.buf = buf;
    return buf;
  }

  async write(src: Buffer, len: number, pos: number): Promise<void> {
    const buf = await this.materialize();
    await buf.write(src, len, pos);
    this.pending = true;
    this.wrote = true;
    this.mtime = Date.now();
  }

  async truncate(size: number): Promise<void> {
    if (!this.buf && size === this.size) {
      this.pending = true; // O_TRUNC on an empty file, truncate to the same size: still a change of mtime
      this.mtime = Date.now();
      return;
    }
    const buf = await this.materialize(size);
    await buf.truncate(size);
    this.pending = true;
    this.mtime = Date.now();
  }

  async read(dst: Buffer, len: number, pos: number, cache: ReadCache): Promise<number> {
    if (this.buf) return this.buf.read(dst, len, pos);
    const b = this.base;
    if (!b) return 0;
    const n = Math.max(0, Math.min(len, b.size - pos));
    if (n === 0) return 0;
    const data = await this.io.read(b.root, pos, n, this.path, cache);
    Buffer.from(data.buffer, data.byteOffset, data.length).copy(dst, 0, 0, data.length);
    return data.length;
  }

  // The content to commit: stored in the chunk store, as a ContentRef.
  async store(): Promise<ContentRef> {
    if (!this.buf) return this.base ?? this.io.storeBuffer(new Uint8Array(0));
    const c = await this.buf.content();
    return 'buffer' in c ? this.io.storeBuffer(c.buffer) : this.io.storeFile(c.file);
  }

  async dispose(): Promise<void> {
    if (this.buf) {
      const b = this.buf;
      this.buf = null;
      await b.dispose();
    }
  }
}
