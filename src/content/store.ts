// Content-addressed chunk store (SPEC section 6). Chunks are SHA-256-addressed, stored once,
// appended to pack files and verified on every read. A file's content is a chunk list (see
// chunklist.ts) stored in the same store; the file's root is the SHA-256 of that list.
//
// Durability rule: write*() and putChunk() resolve only after the bytes they added (and the
// pack file they went into) are fdatasync'ed, so a caller may log a WRITE entry right after.
// Concurrent writers share fsyncs (group commit). See docs/CONTENT.md.
//
// This file opens and closes the store and holds the write path; the read path is reader.ts,
// finding chunks in pack files packindex.ts, a pack's state and handles packstate.ts, the
// directory lock dirlock.ts, the chunk list cache listcache.ts.
import { open, mkdir, readdir, readFile, unlink, writeFile as fsWriteFile, stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join, resolve } from 'node:path';
import { Chunker, DEFAULT_PARAMS, joinParts, type ChunkerParams } from './chunker.ts';
import { ChunkList, ChunkListBuilder, EMPTY_ROOT, InvalidChunkListError } from './chunklist.ts';
import { IdTable } from './idtable.ts';
import { DirLock } from './dirlock.ts';
import { ListCache } from './listcache.ts';
import { Pack, PackHandles } from './packstate.ts';
import { loadPack, writeIndexes, type PackSet } from './packindex.ts';
import { ChunkReader } from './reader.ts';
import { MissingChunksError, CorruptChunkError } from './errors.ts';

export { MissingChunksError, CorruptChunkError } from './errors.ts';
import { sha256, hexOf, idFromHex, sameId } from './chunkid.ts';
import { writeAll, writevAll, readPieces, syncDir, type IngestCtx } from './fileio.ts';
import { Hasher, hashRangesInline, INLINE_HASH, USE_WORKER } from './hasher.ts';
import { PACK_MAGIC, PACK_HEADER, REC_HEADER, encodeRecordHeader, packName } from './pack.ts';

export { InvalidChunkListError } from './chunklist.ts';

export interface ContentRef { root: Uint8Array; size: number }

export interface ChunkInfo { id: Uint8Array; size: number; offset: number }

export interface StoreStats {
  chunksStored: number; // distinct chunks (data chunks and chunk lists) in the store
  bytesStored: number; // their total length (each stored once)
  referenced: number; // distinct chunks (lists included) needed by the given roots
  missing: number; // how many of those are not stored
  logicalBytes: number; // sum of the sizes of the given roots, before dedup
  packBytes: number; // bytes of pack files on disk (headers included)
  packs: number;
}

export interface OpenOptions {
  readOnly?: boolean; // no lock, no writes: for tools reading next to a running node
  packSize?: number; // start a new pack file beyond this many bytes (default 256 MiB)
  chunker?: ChunkerParams; // only for measurements: every node must use the defaults
}

export const DEFAULT_PACK_SIZE = 256 * 1024 * 1024;
const FORMAT_LINE = 'basefs-content-store 1\n';
const BATCH = 4 * 1024 * 1024; // records are staged in batch buffers, written with one write each
const POOLED_BATCHES = 8; // batch buffers kept for reuse (32 MiB)
const MAX_INFLIGHT = 16 * 1024 * 1024; // bytes handed to the kernel and not yet written
const STAGES_AHEAD = 2; // staged batches being hashed while the next one fills
const EARLY_SYNC = 64 * 1024 * 1024; // start writeback in the background every this many bytes

interface Staged { buf: Buffer; used: number; ranges: number[] }

export class ChunkStore {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly params: ChunkerParams;
  private readonly packDir: string;
  private readonly packSize: number;
  private readonly table = new IdTable(4096);
  private readonly packs = new Map<number, Pack>();
  private active: Pack | null = null;
  private rotating: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private batchPool: Buffer[] = [];
  private inflightBytes = 0;
  private readonly hasher = new Hasher();
  private failed: Error | null = null;
  private closed = false;
  private readonly handles = new PackHandles(this.packs);
  private readonly lists = new ListCache();
  private readonly reader = new ChunkReader({ table: this.table, packs: this.packs, handles: this.handles, hasher: this.hasher, lists: this.lists, writeOut: (pack) => this.issue(pack) });
  private dirLock: DirLock | null = null;
  private readonly packFiles: PackSet;

  private constructor(dir: string, opts: OpenOptions) {
    this.dir = dir;
    this.readOnly = !!opts.readOnly;
    this.params = opts.chunker ?? DEFAULT_PARAMS;
    this.packDir = join(dir, 'packs');
    this.packSize = opts.packSize ?? DEFAULT_PACK_SIZE;
    if (!(this.packSize >= 4096 && this.packSize <= 2 ** 40)) throw new RangeError(`packSize out of range: ${this.packSize}`);
    this.packFiles = { dir: this.packDir, readOnly: this.readOnly, table: this.table, packs: this.packs, handles: this.handles };
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
          this.active = last;
        }
        await writeIndexes(this.packFiles, [...this.packs.values()].filter((p) => p !== this.active && p.idxStale));
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
      await this.commitStaged(st, await ids, list);
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
        const w = this.store(id, data);
        if (w) await w;
        await this.sync(); // the record is written from `data`, which may be a view of a piece
        return;
      }
      if (stage && stage.used + REC_HEADER + len > BATCH) await submit();
      if (!stage) stage = { buf: this.takeBatch(), used: 0, ranges: [] };
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
      if (stage) this.releaseBatch((stage as Staged).buf);
      for (const a of ahead) a.ids.then(() => this.releaseBatch(a.st.buf), () => {});
      throw e;
    }
    const blob = list.finish();
    const root = sha256(blob);
    const p = this.store(root, blob);
    if (p) await p;
    await this.sync();
    const rootBytes = new Uint8Array(root.buffer, root.byteOffset, 32);
    this.lists.set(hexOf(rootBytes), new ChunkList(blob));
    return { root: rootBytes, size: list.size };
  }

  // Appends the chunks of a hashed staged batch that are not stored yet (in place: the batch
  // becomes the records to write) and adds every chunk to the list, in order.
  private async commitStaged(st: Staged, ids: Uint8Array, list: ChunkListBuilder): Promise<void> {
    for (;;) {
      if (this.failed) { this.releaseBatch(st.buf); throw this.storeFailed(); }
      const a = this.active;
      if (a && !(a.end + st.used > this.packSize && a.end > PACK_HEADER)) break;
      if (!this.rotating) this.rotating = this.rotate().finally(() => { this.rotating = null; });
      try {
        await this.rotating;
      } catch (e) {
        this.releaseBatch(st.buf);
        throw e;
      }
    }
    const a = this.active!;
    this.issue(a); // records queued before this batch go first
    const base = a.end;
    const buf = st.buf;
    const r = st.ranges;
    let w = 0;
    for (let k = 0; k < r.length / 2; k++) {
      const id = ids.subarray(k * 32, k * 32 + 32);
      const off = r[2 * k];
      const len = r[2 * k + 1];
      list.add(id, len);
      if (this.table.has(id)) continue; // stored before, or earlier in this batch
      if (off !== w + REC_HEADER) buf.copyWithin(w + REC_HEADER, off, off + len);
      buf.set(id, w);
      buf.writeUInt32BE(len, w + 32);
      buf.writeUInt32BE(crc32(buf.subarray(w, w + 36)), w + 36);
      this.table.set(id, a.no, base + w + REC_HEADER, len);
      w += REC_HEADER + len;
    }
    if (w === 0) {
      this.releaseBatch(buf);
      return;
    }
    a.end += w;
    a.curStart = a.end;
    a.validEnd = a.end;
    a.appendSeq++;
    a.idxStale = true;
    this.track(a, writeAll(a.fh!, buf.subarray(0, w), base), buf, w);
    if (this.inflightBytes > MAX_INFLIGHT) await this.waitWrites();
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
    const p = this.store(id, durable || REC_HEADER + data.length <= BATCH ? data : data.slice());
    if (p) await p;
    if (durable) await this.sync();
    return hex;
  }

  // Makes every chunk stored so far durable.
  async flush(): Promise<void> {
    await this.sync();
  }

  // Forgets a chunk (it then reads as missing). Space is not reclaimed (no compaction yet).
  // Durable when it resolves.
  async deleteChunk(idHex: string): Promise<boolean> {
    this.checkWritable();
    const id = idFromHex(idHex);
    const loc = this.table.get(id);
    if (!loc) return false;
    await this.sync();
    if (!this.table.delete(id)) return false;
    this.lists.delete(idHex.toLowerCase());
    const pack = this.packs.get(loc.pack);
    if (pack) {
      pack.idxStale = true;
      await writeIndexes(this.packFiles, [pack]);
    }
    return true;
  }

  // Queues a record unless the chunk is already stored. Returns a promise only when the caller
  // must wait (a new pack file, or too many bytes on their way to the kernel).
  private store(id: Uint8Array, data: Uint8Array): Promise<void> | null {
    if (this.failed) throw this.storeFailed();
    if (this.table.has(id)) return null;
    const a = this.active;
    if (!a || this.mustRotate(a, data.length)) return this.storeSlow(id, data);
    this.append(a, id, data);
    if (this.inflightBytes > MAX_INFLIGHT) return this.waitWrites();
    return null;
  }

  private mustRotate(a: Pack, len: number): boolean {
    return a.end + REC_HEADER + len > this.packSize && a.end > PACK_HEADER;
  }

  private async storeSlow(id: Uint8Array, data: Uint8Array): Promise<void> {
    for (;;) {
      if (this.failed) throw this.storeFailed();
      if (this.table.has(id)) return;
      const a = this.active;
      if (!a || this.mustRotate(a, data.length)) {
        if (!this.rotating) this.rotating = this.rotate().finally(() => { this.rotating = null; });
        await this.rotating;
        continue;
      }
      this.append(a, id, data);
      if (this.inflightBytes > MAX_INFLIGHT) await this.waitWrites();
      return;
    }
  }

  private async waitWrites(): Promise<void> {
    while (this.inflightBytes > MAX_INFLIGHT) {
      const all: Promise<void>[] = [];
      for (const p of this.packs.values()) for (const w of p.inflight) all.push(w);
      if (all.length === 0) break;
      await Promise.race(all);
    }
    if (this.failed) throw this.storeFailed();
  }

  // Batch buffers are views of SharedArrayBuffers, so the hash worker can read them in place.
  private takeBatch(): Buffer {
    return this.batchPool.pop() ?? Buffer.from(new SharedArrayBuffer(BATCH));
  }

  private releaseBatch(b: Buffer): void {
    if (this.batchPool.length < POOLED_BATCHES) this.batchPool.push(b);
  }

  // Appends a record: copied into the pack's current batch buffer (so the caller's bytes are
  // free at once), or, when larger than a batch, written directly.
  private append(pack: Pack, id: Uint8Array, data: Uint8Array): void {
    const len = data.length;
    const need = REC_HEADER + len;
    const off = pack.end + REC_HEADER;
    if (need > BATCH) {
      this.issue(pack);
      const start = pack.end;
      pack.end += need;
      pack.curStart = pack.end;
      this.track(pack, writevAll(pack.fh!, [encodeRecordHeader(id, len), data], start), null, need);
    } else {
      if (!pack.cur || pack.curLen + need > BATCH) {
        this.issue(pack);
        pack.cur = this.takeBatch();
        pack.curLen = 0;
        pack.curStart = pack.end;
      }
      const b = pack.cur;
      const o = pack.curLen;
      b.set(id, o);
      b.writeUInt32BE(len, o + 32);
      b.writeUInt32BE(crc32(b.subarray(o, o + 36)), o + 36);
      b.set(data, o + REC_HEADER);
      pack.curLen += need;
      pack.end += need;
    }
    pack.validEnd = pack.end;
    pack.appendSeq++;
    pack.idxStale = true;
    this.table.set(id, pack.no, off, len);
  }

  // Hands the pack's current batch to the kernel.
  private issue(pack: Pack): void {
    const b = pack.cur;
    if (!b) return;
    pack.cur = null;
    const len = pack.curLen;
    const start = pack.curStart;
    pack.curLen = 0;
    pack.curStart = pack.end;
    if (this.failed || len === 0) { // nothing more reaches the disk after a failure
      this.releaseBatch(b);
      return;
    }
    this.track(pack, writeAll(pack.fh!, b.subarray(0, len), start), b, len);
  }

  private track(pack: Pack, w: Promise<void>, batch: Buffer | null, bytes: number): void {
    this.inflightBytes += bytes;
    const p: Promise<void> = w.then(
      () => { this.inflightBytes -= bytes; pack.inflight.delete(p); if (batch) this.releaseBatch(batch); },
      (e) => { this.inflightBytes -= bytes; pack.inflight.delete(p); if (batch) this.releaseBatch(batch); this.fail(e); },
    );
    pack.inflight.add(p);
    pack.sinceEarlySync += bytes;
    if (pack.sinceEarlySync >= EARLY_SYNC && !pack.earlySync) {
      // start writeback now so the fdatasync that acknowledges the write has little left to do
      pack.sinceEarlySync = 0;
      const fh = pack.fh!;
      pack.earlySync = fh.datasync().then(() => {}, (e) => this.fail(e)).finally(() => { pack.earlySync = null; });
    }
  }

  // Seals the active pack (synced, indexed) and starts the next one. Any failure here stops the
  // store, as a failed write does.
  private async rotate(): Promise<void> {
    if (this.failed) throw this.storeFailed();
    try {
      await this.rotateInner();
    } catch (e) {
      this.fail(e);
      throw this.storeFailed();
    }
  }

  private async rotateInner(): Promise<void> {
    const old = this.active;
    if (old) {
      this.active = null;
      await this.syncPacks([old]);
      old.writable = false;
      await writeIndexes(this.packFiles, [old]);
    }
    let no = 1;
    for (const k of this.packs.keys()) if (k >= no) no = k + 1;
    const path = join(this.packDir, packName(no));
    const fh = await open(path, 'wx+');
    try {
      await fh.write(PACK_MAGIC, 0, PACK_HEADER, 0);
      await fh.datasync();
      await syncDir(this.packDir); // the new file's directory entry must survive a power cut
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    const pack = new Pack(no, path, PACK_HEADER);
    this.handles.adopt(pack, fh);
    pack.writable = true;
    pack.idxStale = true;
    this.handles.touch(pack);
    this.packs.set(no, pack);
    this.active = pack;
    await this.handles.evict();
  }

  // Group commit: returns once every record appended before the call is on stable storage.
  private async sync(): Promise<void> {
    const targets: [Pack, number][] = [];
    for (const p of this.packs.values()) if (p.appendSeq > p.syncedSeq) targets.push([p, p.appendSeq]);
    for (;;) {
      if (this.failed) throw this.storeFailed();
      if (targets.every(([p, seq]) => p.syncedSeq >= seq)) return;
      if (this.syncing) {
        await this.syncing.catch(() => {});
        continue;
      }
      const dirty = [...this.packs.values()].filter((p) => p.appendSeq > p.syncedSeq);
      this.syncing = this.syncPacks(dirty).finally(() => { this.syncing = null; });
      await this.syncing.catch(() => {});
    }
  }

  private async syncPacks(packs: Pack[]): Promise<void> {
    await Promise.all(packs.map(async (p) => {
      const seq = p.appendSeq; // everything appended up to here is issued below
      const end = p.end;
      this.issue(p);
      await Promise.all([...p.inflight]);
      if (this.failed) throw this.storeFailed();
      if (p.readableEnd < end) p.readableEnd = end;
      try {
        await p.fh!.datasync();
      } catch (e) {
        this.fail(e);
        throw this.storeFailed();
      }
      if (p.syncedSeq < seq) p.syncedSeq = seq;
      if (p.syncedEnd < end) p.syncedEnd = end;
    }));
  }

  private fail(e: unknown): void {
    if (!this.failed) this.failed = e instanceof Error ? e : new Error(String(e));
  }

  private storeFailed(): Error {
    return new Error(`content store ${this.dir} stopped after a write error (${this.failed?.message}); restart to recover`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`content store ${this.dir} is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new Error(`content store ${this.dir} is open read-only`);
    if (this.failed) throw this.storeFailed();
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
    let packBytes = 0;
    for (const p of this.packs.values()) packBytes += p.end;
    const out: StoreStats = { chunksStored: this.table.count, bytesStored: this.table.bytes, referenced: 0, missing: 0, logicalBytes: 0, packBytes, packs: this.packs.size };
    if (!referenced) return out;
    const seen = new Set<string>();
    for (const root of referenced) {
      const hex = hexOf(root);
      let list: ChunkList | null = null;
      try {
        list = await this.reader.loadList(root);
      } catch (e) {
        if (!(e instanceof MissingChunksError || e instanceof CorruptChunkError || e instanceof InvalidChunkListError)) throw e;
      }
      if (!seen.has(hex)) {
        seen.add(hex);
        out.referenced++;
        if (!list && !sameId(root, EMPTY_ROOT)) out.missing++;
      }
      if (!list) continue;
      out.logicalBytes += list.size;
      for (let i = 0; i < list.count; i++) {
        const h = list.idHex(i);
        if (seen.has(h)) continue;
        seen.add(h);
        out.referenced++;
        if (!this.table.has(list.id(i))) out.missing++;
      }
    }
    return out;
  }

  // Test hook: drops the store as a killed process would (queued records are lost, no index
  // files written), leaving the directory to be reopened.
  async crashForTests(): Promise<void> {
    this.closed = true;
    this.fail(new Error('simulated crash'));
    await this.hasher.close();
    for (const p of this.packs.values()) {
      if (p.cur) { this.releaseBatch(p.cur); p.cur = null; }
      await Promise.all([...p.inflight]).catch(() => {});
      if (p.earlySync) await p.earlySync.catch(() => {});
      await this.handles.close(p);
    }
    await this.releaseLock();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.readOnly && !this.failed) {
        while (this.rotating) await this.rotating.catch(() => {});
        await this.sync();
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

