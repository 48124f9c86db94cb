// Content-addressed chunk store (SPEC section 6). Chunks are SHA-256-addressed, stored once,
// appended to pack files and verified on every read. A file's content is a chunk list (see
// chunklist.ts) stored in the same store; the file's root is the SHA-256 of that list.
//
// Durability rule: write*() and putChunk() resolve only after the bytes they added (and the
// pack file they went into) are fdatasync'ed, so a caller may log a WRITE entry right after.
// Concurrent writers share fsyncs (group commit). See docs/CONTENT.md.
//
// This file opens and closes the store and cuts what is written into chunks (ingest); appending
// records to packs with group commit is packwriter.ts, the read path reader.ts, finding chunks
// in pack files packindex.ts, a pack's state and handles packstate.ts, the directory lock
// dirlock.ts, the chunk list cache listcache.ts.
import { open, mkdir, readdir, readFile, unlink, writeFile as fsWriteFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Chunker, DEFAULT_PARAMS, joinParts, type ChunkerParams } from './chunker.ts';
import { ChunkList, ChunkListBuilder } from './chunklist.ts';
import { IdTable } from './idtable.ts';
import { DirLock } from './dirlock.ts';
import { ListCache } from './listcache.ts';
import { Pack, PackHandles } from './packstate.ts';
import { loadPack, writeIndexes, type PackSet } from './packindex.ts';
import { ChunkReader } from './reader.ts';
import { storeStats, type StoreStats } from './stats.ts';
import { PackWriter, BATCH, type Staged } from './packwriter.ts';
import { MissingChunksError, CorruptChunkError } from './errors.ts';
import { sha256, hexOf, idFromHex } from './chunkid.ts';
import { readPieces, syncDir, type IngestCtx } from './fileio.ts';
import { Hasher, hashRangesInline, INLINE_HASH, USE_WORKER } from './hasher.ts';
import { REC_HEADER } from './pack.ts';

export { MissingChunksError, CorruptChunkError } from './errors.ts';
export type { StoreStats } from './stats.ts';
export { InvalidChunkListError } from './chunklist.ts';

export interface ContentRef { root: Uint8Array; size: number }

export interface ChunkInfo { id: Uint8Array; size: number; offset: number }


export interface OpenOptions {
  readOnly?: boolean; // no lock, no writes: for tools reading next to a running node
  packSize?: number; // start a new pack file beyond this many bytes (default 256 MiB)
  chunker?: ChunkerParams; // only for measurements: every node must use the defaults
}

export const DEFAULT_PACK_SIZE = 256 * 1024 * 1024;
const FORMAT_LINE = 'basefs-content-store 1\n';
const STAGES_AHEAD = 2; // staged batches being hashed while the next one fills

export class ChunkStore {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly params: ChunkerParams;
  private readonly packDir: string;
  private readonly packSize: number;
  private readonly table = new IdTable(4096);
  private readonly packs = new Map<number, Pack>();
  private readonly hasher = new Hasher();
  private closed = false;
  private readonly handles = new PackHandles(this.packs);
  private readonly lists = new ListCache();
  private readonly reader = new ChunkReader({ table: this.table, packs: this.packs, handles: this.handles, hasher: this.hasher, lists: this.lists, writeOut: (pack) => this.writer.issue(pack) });
  private dirLock: DirLock | null = null;
  private readonly packFiles: PackSet;
  private readonly writer: PackWriter;

  private constructor(dir: string, opts: OpenOptions) {
    this.dir = dir;
    this.readOnly = !!opts.readOnly;
    this.params = opts.chunker ?? DEFAULT_PARAMS;
    this.packDir = join(dir, 'packs');
    this.packSize = opts.packSize ?? DEFAULT_PACK_SIZE;
    if (!(this.packSize >= 4096 && this.packSize <= 2 ** 40)) throw new RangeError(`packSize out of range: ${this.packSize}`);
    this.packFiles = { dir: this.packDir, readOnly: this.readOnly, table: this.table, packs: this.packs, handles: this.handles };
    this.writer = new PackWriter({ dir, packSize: this.packSize, packFiles: this.packFiles });
  }

  static async open(dir: string, opts: OpenOptions = {}): Promise<ChunkStore> {
    const s = new ChunkStore(resolve(dir), opts);
    await s.init();
    return s;
  }

  // ---------------------------------------------------------------- opening

  private async releaseLock(): Promise<void> {
    await this.dirLock?.release();
    this.dirLock = null;
  }

  private async init(): Promise<void> {
    if (this.readOnly) {
      const st = await stat(this.packDir).catch(() => null);
      if (!st?.isDirectory()) throw new Error(`no content store at ${this.dir}`);
    } else {
      const created = await mkdir(this.packDir, { recursive: true });
      if (created !== undefined) {
        await fsWriteFile(join(this.dir, 'FORMAT'), FORMAT_LINE);
        await syncDir(this.dir);
        await syncDir(join(this.dir, '..'));
      }
    }
    const fmt = await readFile(join(this.dir, 'FORMAT'), 'utf8').catch(() => null);
    if (fmt !== null && fmt !== FORMAT_LINE) throw new Error(`content store ${this.dir} has an unknown format: ${fmt.trim()}`);
    if (fmt === null && !this.readOnly) await fsWriteFile(join(this.dir, 'FORMAT'), FORMAT_LINE);
    if (!this.readOnly) this.dirLock = await DirLock.acquire(this.dir);
    try {
      const names = await readdir(this.packDir);
      const nums: number[] = [];
      for (const n of names) {
        const m = /^(\d{8})\.pack$/.exec(n);
        if (m) nums.push(Number(m[1]));
        else if (n.endsWith('.tmp') && !this.readOnly) await unlink(join(this.packDir, n)).catch(() => {});
      }
      nums.sort((a, b) => a - b);
      for (const no of nums) await loadPack(this.packFiles, no);
      if (!this.readOnly) {
        const last = nums.length ? this.packs.get(nums[nums.length - 1]) : undefined;
        if (last && !last.damaged && last.end < this.packSize) {
          await this.handles.close(last);
          this.handles.adopt(last, await open(last.path, 'r+'));
          last.writable = true;
          this.writer.active = last;
        }
        await writeIndexes(this.packFiles, [...this.packs.values()].filter((p) => p !== this.writer.active && p.idxStale));
      }
      await this.handles.evict();
    } catch (e) {
      await this.releaseLock();
      for (const p of this.packs.values()) await this.handles.close(p);
      throw e;
    }
  }



  // ---------------------------------------------------------------- writing

  async writeBuffer(data: Uint8Array): Promise<ContentRef> {
    return this.writeStream([data]);
  }

  async writeFile(path: string, onProgress?: (bytes: number) => void): Promise<ContentRef> {
    this.checkWritable();
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const ctx: IngestCtx = { inUse: () => false };
      return await this.ingest(readPieces(fh, size, ctx), onProgress, ctx);
    } finally {
      await fh.close();
    }
  }

  // onProgress receives the number of bytes consumed so far (cumulative). Pieces must not be
  // modified until the call resolves (Node streams never reuse theirs); none is kept after.
  async writeStream(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onProgress?: (bytes: number) => void): Promise<ContentRef> {
    return this.ingest(src, onProgress, null);
  }

  // Chunks are copied into staged batch buffers (header space left before each), a full batch
  // is hashed on the hash worker while the next one fills, then committed: duplicates dropped,
  // headers filled in, the batch written to the pack with one write.
  private async ingest(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onProgress: ((bytes: number) => void) | undefined, ctx: IngestCtx | null): Promise<ContentRef> {
    this.checkWritable();
    const chunker = new Chunker(this.params);
    const list = new ChunkListBuilder(256);
    if (ctx) ctx.inUse = (ab) => chunker.holds(ab);
    let stage: Staged | null = null;
    const ahead: { st: Staged; ids: Promise<Uint8Array> }[] = [];
    const commitOldest = async (): Promise<void> => {
      const { st, ids } = ahead.shift()!;
      await this.writer.commitStaged(st, await ids, list);
    };
    const submit = async (): Promise<void> => {
      const st = stage;
      stage = null;
      if (!st) return;
      const ids = !USE_WORKER || (st.used < INLINE_HASH && ahead.length === 0)
        ? Promise.resolve(hashRangesInline(st.buf, st.ranges))
        : this.hasher.hashRanges(st.buf, st.ranges);
      ids.catch(() => {});
      ahead.push({ st, ids });
      while (ahead.length > STAGES_AHEAD) await commitOldest();
    };
    const add = async (parts: Uint8Array[]): Promise<void> => {
      let len = 0;
      for (const p of parts) len += p.length;
      if (REC_HEADER + len > BATCH) { // only with a custom max chunk size
        await submit();
        while (ahead.length) await commitOldest();
        const data = joinParts(parts);
        const id = sha256(data);
        list.add(id, len);
        const w = this.writer.store(id, data);
        if (w) await w;
        await this.writer.sync(); // the record is written from `data`, which may be a view of a piece
        return;
      }
      if (stage && stage.used + REC_HEADER + len > BATCH) await submit();
      if (!stage) stage = { buf: this.writer.takeBatch(), used: 0, ranges: [] };
      let o = stage.used + REC_HEADER;
      stage.ranges.push(o, len);
      for (const p of parts) { stage.buf.set(p, o); o += p.length; }
      stage.used = o;
    };
    let bytes = 0;
    try {
      for await (const piece of src) {
        if (!(piece instanceof Uint8Array)) throw new TypeError('writeStream: source must yield Uint8Array pieces');
        for (const parts of chunker.pushParts(piece)) await add(parts);
        bytes += piece.length;
        if (onProgress) onProgress(bytes);
      }
      for (const parts of chunker.finishParts()) await add(parts);
      await submit();
      while (ahead.length) await commitOldest();
    } catch (e) {
      if (stage) this.writer.releaseBatch((stage as Staged).buf);
      for (const a of ahead) a.ids.then(() => this.writer.releaseBatch(a.st.buf), () => {});
      throw e;
    }
    const blob = list.finish();
    const root = sha256(blob);
    const p = this.writer.store(root, blob);
    if (p) await p;
    await this.writer.sync();
    const rootBytes = new Uint8Array(root.buffer, root.byteOffset, 32);
    this.lists.set(hexOf(rootBytes), new ChunkList(blob));
    return { root: rootBytes, size: list.size };
  }

  // Used by the network: stores one chunk (data chunk or chunk list) received from a peer after
  // checking that it hashes to the id it was asked for. Durable when it resolves unless
  // opts.sync is false (then call flush()).
  async putChunk(data: Uint8Array, expectHex?: string, opts: { sync?: boolean } = {}): Promise<string> {
    this.checkWritable();
    if (!(data instanceof Uint8Array)) throw new TypeError('putChunk: data must be a Uint8Array');
    const id = sha256(data);
    const hex = hexOf(id);
    if (expectHex !== undefined && hex !== expectHex.toLowerCase()) {
      throw new CorruptChunkError(expectHex.toLowerCase(), undefined, `received bytes do not match their hash (they hash to ${hex})`);
    }
    const durable = opts.sync !== false;
    // records up to a batch are copied at once; a bigger one is written from the caller's
    // buffer, which must then outlive the write
    const p = this.writer.store(id, durable || REC_HEADER + data.length <= BATCH ? data : data.slice());
    if (p) await p;
    if (durable) await this.writer.sync();
    return hex;
  }

  // Makes every chunk stored so far durable.
  async flush(): Promise<void> {
    await this.writer.sync();
  }

  // Forgets a chunk (it then reads as missing). Space is not reclaimed (no compaction yet).
  // Durable when it resolves.
  async deleteChunk(idHex: string): Promise<boolean> {
    this.checkWritable();
    const id = idFromHex(idHex);
    const loc = this.table.get(id);
    if (!loc) return false;
    await this.writer.sync();
    if (!this.table.delete(id)) return false;
    this.lists.delete(idHex.toLowerCase());
    const pack = this.packs.get(loc.pack);
    if (pack) {
      pack.idxStale = true;
      await writeIndexes(this.packFiles, [pack]);
    }
    return true;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`content store ${this.dir} is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new Error(`content store ${this.dir} is open read-only`);
    if (this.writer.failed) throw this.writer.storeFailed();
  }

  // ---------------------------------------------------------------- reading

  async hasChunk(idHex: string): Promise<boolean> {
    this.checkOpen();
    return this.table.has(idFromHex(idHex));
  }

  // Verified bytes of one chunk, or null if it is not stored (a chunk found corrupt is
  // dropped from the index and reported as absent, so it gets fetched again).
  async getChunk(idHex: string): Promise<Uint8Array | null> {
    this.checkOpen();
    const id = idFromHex(idHex);
    const loc = this.table.get(id);
    if (!loc) return null;
    try {
      return await this.reader.readOne(id, loc);
    } catch (e) {
      if (e instanceof CorruptChunkError) return null;
      throw e;
    }
  }

  async chunkList(root: Uint8Array): Promise<ChunkInfo[]> {
    this.checkOpen();
    const list = await this.reader.loadList(root);
    const out: ChunkInfo[] = new Array(list.count);
    for (let i = 0; i < list.count; i++) out[i] = { id: list.id(i).slice(), size: list.chunkSize(i), offset: list.offsets[i] };
    return out;
  }

  // Size of the content, from its chunk list.
  async size(root: Uint8Array, label?: string): Promise<number> {
    this.checkOpen();
    return (await this.reader.loadList(root, label)).size;
  }

  async missing(root: Uint8Array): Promise<string[]> {
    this.checkOpen();
    let list: ChunkList;
    try {
      list = await this.reader.loadList(root);
    } catch (e) {
      if (e instanceof MissingChunksError || e instanceof CorruptChunkError) return [hexOf(root)];
      throw e;
    }
    return this.reader.missingIn(list, 0, list.count);
  }

  async read(root: Uint8Array, offset: number, length: number, label?: string): Promise<Uint8Array> {
    this.checkOpen();
    return this.reader.read(root, offset, length, label);
  }

  async readAll(root: Uint8Array, label?: string): Promise<Uint8Array> {
    this.checkOpen();
    const list = await this.reader.loadList(root, label);
    return this.reader.read(root, 0, list.size, label);
  }

  // Streams the content chunk by chunk (verified), reading ahead a few runs. All chunks are
  // checked to be present before the first byte is produced.
  async *readStream(root: Uint8Array, label?: string): AsyncGenerator<Uint8Array> {
    this.checkOpen();
    yield* this.reader.stream(root, label);
  }

  // ---------------------------------------------------------------- stats, close

  async stats(referenced?: Iterable<Uint8Array>): Promise<StoreStats> {
    this.checkOpen();
    return storeStats(this.packFiles, this.reader, referenced);
  }

  // Test hook: drops the store as a killed process would (queued records are lost, no index
  // files written), leaving the directory to be reopened.
  async crashForTests(): Promise<void> {
    this.closed = true;
    this.writer.fail(new Error('simulated crash'));
    await this.hasher.close();
    for (const p of this.packs.values()) {
      if (p.cur) { this.writer.releaseBatch(p.cur); p.cur = null; }
      await Promise.all([...p.inflight]).catch(() => {});
      if (p.earlySync) await p.earlySync.catch(() => {});
      await this.handles.close(p);
    }
    await this.releaseLock();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.readOnly && !this.writer.failed) {
        while (this.writer.rotating) await this.writer.rotating.catch(() => {});
        await this.writer.sync();
        await writeIndexes(this.packFiles, [...this.packs.values()].filter((p) => p.idxStale || p.idxCovered < (p.damaged ? p.validEnd : p.syncedEnd)));
      }
    } finally {
      this.closed = true;
      for (const p of this.packs.values()) {
        await Promise.all([...p.inflight]).catch(() => {});
        if (p.earlySync) await p.earlySync.catch(() => {});
        await this.handles.close(p);
      }
      this.lists.clear();
      await this.hasher.close();
      await this.releaseLock();
    }
  }
}

