import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ChunkListBuilder } from './chunklist.ts';
import type { IdTable } from './idtable.ts';
import { writeAll, writevAll, syncDir } from './fileio.ts';
import { Pack, type PackHandles } from './packstate.ts';
import { writeIndexes, type PackSet } from './packindex.ts';
import { PACK_MAGIC, PACK_HEADER, REC_HEADER, encodeRecordHeader, packName } from './pack.ts';

// Appending records to pack files: one active pack at a time (sealed and indexed past the
// pack size), records copied into batch buffers written with one write each, writeback
// started early, and group commit: sync() returns once every record appended before it is on
// stable storage, shared by concurrent writers. A failed write stops the store (`failed`).
export const BATCH = 4 * 1024 * 1024; // records are staged in batch buffers, written with one write each
const POOLED_BATCHES = 8; // batch buffers kept for reuse (32 MiB)
const MAX_INFLIGHT = 16 * 1024 * 1024; // bytes handed to the kernel and not yet written
const EARLY_SYNC = 64 * 1024 * 1024; // start writeback in the background every this many bytes

// A batch of chunks being written: each chunk at ranges[2k] (header space left before it),
// ranges[2k+1] bytes long.
export interface Staged { buf: Buffer; used: number; ranges: number[] }

export interface WriterParts {
  dir: string; // the store's directory, for messages
  packSize: number;
  packFiles: PackSet;
}

export class PackWriter {
  active: Pack | null = null;
  rotating: Promise<void> | null = null;
  failed: Error | null = null;
  private syncing: Promise<void> | null = null;
  private batchPool: Buffer[] = [];
  private inflightBytes = 0;
  private readonly dir: string;
  private readonly packDir: string;
  private readonly packSize: number;
  private readonly table: IdTable;
  private readonly packs: Map<number, Pack>;
  private readonly handles: PackHandles;
  private readonly packFiles: PackSet;

  constructor(p: WriterParts) {
    this.dir = p.dir;
    this.packSize = p.packSize;
    this.packFiles = p.packFiles;
    this.packDir = p.packFiles.dir;
    this.table = p.packFiles.table;
    this.packs = p.packFiles.packs;
    this.handles = p.packFiles.handles;
  }

  // Appends the chunks of a hashed staged batch that are not stored yet (in place: the batch
  // becomes the records to write) and adds every chunk to the list, in order.
  async commitStaged(st: Staged, ids: Uint8Array, list: ChunkListBuilder): Promise<void> {
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

  // Queues a record unless the chunk is already stored. Returns a promise only when the caller
  // must wait (a new pack file, or too many bytes on their way to the kernel).
  store(id: Uint8Array, data: Uint8Array): Promise<void> | null {
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
  takeBatch(): Buffer {
    return this.batchPool.pop() ?? Buffer.from(new SharedArrayBuffer(BATCH));
  }

  releaseBatch(b: Buffer): void {
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
  issue(pack: Pack): void {
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
  async sync(): Promise<void> {
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

  fail(e: unknown): void {
    if (!this.failed) this.failed = e instanceof Error ? e : new Error(String(e));
  }

  storeFailed(): Error {
    return new Error(`content store ${this.dir} stopped after a write error (${this.failed?.message}); restart to recover`);
  }
}
