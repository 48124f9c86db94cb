import { Mutex } from '../node/mutex.ts';
import { WriteBuffer, MEM_FILE_MAX } from './buffer.ts';
import { PushStream } from './stream.ts';

export interface ContentRef {
  root: Uint8Array;
  size: number;
}

// What the FUSE layer needs from the content store (see content.ts for the adapter).
export interface ContentIO {
  read(root: Uint8Array, offset: number, length: number, label: string): Promise<Uint8Array>;
  chunkList(root: Uint8Array): Promise<{ id: Uint8Array; size: number; offset: number }[]>;
  chunk(root: Uint8Array, idHex: string, label: string): Promise<Uint8Array>; // one verified chunk of root's content
  storeBuffer(data: Uint8Array): Promise<ContentRef>;
  storeFile(path: string): Promise<ContentRef>;
  storeStream(src: AsyncIterable<Uint8Array>): Promise<ContentRef>;
  storeSmall(data: Uint8Array): Promise<ContentRef>; // not durable until flush()
  flush(): Promise<void>;
}

const MATERIALIZE_STEP = 4 * 1024 * 1024;

// A file with changes made on this node that the log does not hold yet: one per path, shared
// by every handle that has the path open (writers, and readers that opened it while it had
// local changes), kept until its changes are committed and the last handle is closed.
//
// Content lives in one of three places:
//   - nowhere yet: unchanged since open, reads go to the committed `base`;
//   - a WriteBuffer: memory up to 4 MiB, then a temp file (any write pattern);
//   - a stream into the chunk store: a file written from empty strictly sequentially grows
//     past 4 MiB without a temp file; the store chunks and hashes it as it arrives. Anything
//     but an append (a write elsewhere, a truncate, a read) ends the stream and copies the
//     content back into a temp file first.
export class DirtyFile {
  path: string;
  mode: number;
  mtime: number;
  owner = ''; // as the log records them (names; '' = not recorded)
  group = '';
  ctime: number; // the last change, shown until the commit (then the entry's time)
  base: ContentRef | null; // last committed content (null: none / empty)
  inLog: boolean; // the path has a committed version
  buf: WriteBuffer | null = null;
  private stream: { s: PushStream; done: Promise<ContentRef>; size: number } | null = null;
  private seq: boolean; // every byte so far was appended to an empty file
  gen = 0; // bumped by every change
  committedGen: number; // gen of the last commit (-1: never committed)
  failed: { gen: number; err: unknown } | null = null; // the last commit attempt that failed
  writers = 0;
  refs = 0;
  queued = false; // waiting in the committer
  inflight = false; // in a batch being committed
  hidden = false; // unlinked while open (libfuse renamed it to .fuse_hidden*): never committed
  unlinked = false;
  readonly lock = new Mutex();
  private tmpDir: string;
  private io: ContentIO;

  constructor(path: string, o: { mode: number; mtime: number; ctime?: number; base: ContentRef | null; inLog: boolean; tmpDir: string; io: ContentIO }) {
    this.path = path;
    this.mode = o.mode;
    this.mtime = o.mtime;
    this.ctime = o.ctime ?? Date.now();
    this.base = o.base;
    this.inLog = o.inLog;
    this.committedGen = o.inLog ? 0 : -1;
    this.seq = !o.base || o.base.size === 0;
    this.tmpDir = o.tmpDir;
    this.io = o.io;
  }

  get pending(): boolean {
    return this.gen !== this.committedGen;
  }

  get size(): number {
    if (this.stream) return this.stream.size;
    return this.buf ? this.buf.size : (this.base?.size ?? 0);
  }

  get discarded(): boolean {
    return this.hidden || this.unlinked;
  }

  changed(): void {
    this.gen++;
    this.ctime = Date.now();
  }

  // Copies the committed content into a buffer (unless it is about to be cut to `keep`).
  private async materialize(keep = Infinity): Promise<WriteBuffer> {
    if (this.stream) await this.endStream();
    if (this.buf) return this.buf;
    const buf = new WriteBuffer(this.tmpDir);
    try {
      const b = this.base;
      const upto = b ? Math.min(b.size, keep) : 0;
      for (let off = 0; off < upto; off += MATERIALIZE_STEP) {
        const want = Math.min(MATERIALIZE_STEP, upto - off);
        const data = await this.io.read(b!.root, off, want, this.path);
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

  // Finishes the stream: its content becomes `base` (stored, durable).
  private async endStream(): Promise<ContentRef> {
    const st = this.stream!;
    st.s.end();
    const ref = await st.done;
    this.stream = null;
    this.base = ref;
    this.seq = false;
    return ref;
  }

  private startStream(): void {
    const s = new PushStream();
    const done = this.io.storeStream(s);
    done.catch((e) => s.fail(e as Error));
    this.stream = { s, done, size: 0 };
  }

  async write(src: Buffer, len: number, pos: number): Promise<void> {
    this.changed();
    this.mtime = Date.now();
    if (this.stream) {
      if (pos === this.stream.size) {
        await this.stream.s.push(Buffer.from(src.subarray(0, len))); // the kernel's buffer is only ours until we answer
        this.stream.size += len;
        return;
      }
      await this.materialize();
    }
    const buf = await this.materialize();
    if (this.seq && pos !== buf.size) this.seq = false;
    if (this.seq && buf.inMemory && pos + len > MEM_FILE_MAX) {
      // a big file written front to back: stream it into the store instead of a temp file
      this.startStream();
      const st = this.stream!;
      if (buf.size > 0) {
        const head = Buffer.alloc(buf.size);
        await buf.read(head, buf.size, 0);
        await st.s.push(head);
        st.size = head.length;
      }
      this.buf = null;
      await buf.dispose();
      await st.s.push(Buffer.from(src.subarray(0, len)));
      st.size += len;
      return;
    }
    await buf.write(src, len, pos);
  }

  async truncate(size: number): Promise<void> {
    this.changed();
    this.mtime = Date.now();
    if (size === 0) {
      // start over from empty, whatever the content was
      if (this.stream) {
        this.stream.s.end();
        this.stream.done.catch(() => {});
        this.stream = null;
      }
      if (this.buf) await this.buf.dispose();
      this.buf = new WriteBuffer(this.tmpDir);
      this.seq = true;
      return;
    }
    if (size === this.size) return;
    const buf = await this.materialize(size);
    await buf.truncate(size);
    this.seq = false;
  }

  async read(dst: Buffer, len: number, pos: number): Promise<number> {
    if (this.stream) await this.materialize();
    if (this.buf) return this.buf.read(dst, len, pos);
    const b = this.base;
    if (!b) return 0;
    const n = Math.max(0, Math.min(len, b.size - pos));
    if (n === 0) return 0;
    const data = await this.io.read(b.root, pos, n, this.path);
    dst.set(data, 0);
    return data.length;
  }

  // The content to commit, stored in the chunk store (durable after io.flush()). Call under
  // `lock`.
  async store(): Promise<ContentRef> {
    if (this.stream) return this.endStream();
    if (!this.buf) return this.base ?? this.io.storeSmall(new Uint8Array(0));
    const c = await this.buf.content();
    return 'buffer' in c ? this.io.storeSmall(c.buffer) : this.io.storeFile(c.file);
  }

  async dispose(): Promise<void> {
    if (this.stream) {
      this.stream.s.end();
      this.stream.done.catch(() => {});
      this.stream = null;
    }
    if (this.buf) {
      const b = this.buf;
      this.buf = null;
      await b.dispose();
    }
  }
}
