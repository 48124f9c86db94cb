import { ChunkList, ChunkListBuilder, EMPTY_ROOT, InvalidChunkListError } from './chunklist.ts';
import type { IdTable, Loc } from './idtable.ts';
import type { Hasher } from './hasher.ts';
import { hashRangesInline, INLINE_HASH, USE_WORKER } from './hasher.ts';
import type { ListCache } from './listcache.ts';
import type { Pack, PackHandles } from './packstate.ts';
import { REC_HEADER } from './pack.ts';
import { sha256, hexOf, sameId } from './chunkid.ts';
import { MissingChunksError, CorruptChunkError } from './errors.ts';

// The chunk store's read path: a file's chunk list, then its chunks, adjacent records read
// with one pread each (a run), a few runs in flight, every chunk verified against its id
// (big runs on the hash worker). A chunk that fails is dropped from the table, so it reads as
// missing and gets fetched again.
const READ_RUN = 4 * 1024 * 1024; // adjacent chunks are read with one pread up to this size
const READ_AHEAD = 3; // runs in flight while streaming

interface RunItem { i: number; off: number; len: number; repeat: boolean }
interface Run { pack: Pack; start: number; end: number; items: RunItem[] }

export interface ReaderParts {
  table: IdTable;
  packs: Map<number, Pack>;
  handles: PackHandles;
  hasher: Hasher;
  lists: ListCache;
  writeOut: (pack: Pack) => void; // hands a pack's queued records to the kernel
}

export class ChunkReader {
  private readonly table: IdTable;
  private readonly packs: Map<number, Pack>;
  private readonly handles: PackHandles;
  private readonly hasher: Hasher;
  private readonly lists: ListCache;
  private readonly writeOut: (pack: Pack) => void;
  private readPool: Buffer[] = [];

  constructor(p: ReaderParts) {
    this.table = p.table;
    this.packs = p.packs;
    this.handles = p.handles;
    this.hasher = p.hasher;
    this.lists = p.lists;
    this.writeOut = p.writeOut;
  }

  async loadList(root: Uint8Array, label?: string): Promise<ChunkList> {
    if (!(root instanceof Uint8Array) || root.length !== 32) throw new TypeError('content root must be 32 bytes');
    const hex = hexOf(root);
    const cached = this.lists.get(hex);
    if (cached) return cached;
    if (sameId(root, EMPTY_ROOT)) {
      const l = new ChunkList(new ChunkListBuilder(0).finish());
      this.lists.set(hex, l);
      return l;
    }
    const loc = this.table.get(root);
    if (!loc) throw new MissingChunksError([hex], label);
    const blob = await this.readOne(root, loc, label);
    let list: ChunkList;
    try {
      list = new ChunkList(blob);
    } catch (e) {
      if (e instanceof InvalidChunkListError) throw new InvalidChunkListError(`${label ? `${label}: ` : ''}content root ${hex} is not a chunk list (${e.message})`);
      throw e;
    }
    this.lists.set(hex, list);
    return list;
  }

  missingIn(list: ChunkList, from: number, to: number): string[] {
    const out: string[] = [];
    let seen: Set<string> | null = null;
    for (let i = from; i < to; i++) {
      if (this.table.has(list.id(i))) continue;
      const h = list.idHex(i);
      seen ??= new Set();
      if (!seen.has(h)) { seen.add(h); out.push(h); }
    }
    return out;
  }

  async read(root: Uint8Array, offset: number, length: number, label?: string): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad read range ${offset}+${length}`);
    const list = await this.loadList(root, label);
    const end = Math.min(list.size, offset + length);
    if (offset >= end) return new Uint8Array(0);
    const first = list.find(offset);
    const last = list.find(end - 1);
    const miss = this.missingIn(list, first, last + 1);
    if (miss.length) throw new MissingChunksError(miss, label);
    const runs = this.planRuns(list, first, last + 1, label);
    const out = Buffer.allocUnsafe(end - offset);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < runs.length) {
        const run = runs[next++];
        const scratch = this.takeScratch();
        try {
          const chunks = await this.readRun(run, list, label, scratch);
          for (let k = 0; k < run.items.length; k++) {
            const it = run.items[k];
            const cStart = list.offsets[it.i];
            const data = chunks[k];
            const a = Math.max(offset, cStart);
            const b = Math.min(end, cStart + data.length);
            out.set(data.subarray(a - cStart, b - cStart), a - offset);
          }
        } finally {
          this.releaseScratch(scratch);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_AHEAD, runs.length) }, worker));
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  // Streams the content chunk by chunk (verified), reading ahead a few runs. All chunks are
  // checked to be present before the first byte is produced.
  async *stream(root: Uint8Array, label?: string): AsyncGenerator<Uint8Array> {
    const list = await this.loadList(root, label);
    const miss = this.missingIn(list, 0, list.count);
    if (miss.length) throw new MissingChunksError(miss, label);
    // plan lazily, a window at a time, so a huge file does not need a huge plan
    const WINDOW = 256;
    const queue: { run: Run; p: Promise<Uint8Array[]>; scratch: Buffer }[] = [];
    let planned = 0;
    let pendingRuns: Run[] = [];
    const refill = (): void => {
      while (queue.length < READ_AHEAD) {
        if (pendingRuns.length === 0) {
          if (planned >= list.count) return;
          const to = Math.min(list.count, planned + WINDOW);
          pendingRuns = this.planRuns(list, planned, to, label);
          planned = to;
        }
        const run = pendingRuns.shift()!;
        const scratch = this.takeScratch();
        const p = this.readRun(run, list, label, scratch);
        p.catch(() => {}); // observed when dequeued
        queue.push({ run, p, scratch });
      }
    };
    try {
      refill();
      while (queue.length) {
        const { p, scratch } = queue.shift()!;
        const chunks = await p;
        // hand out copies (the consumer may keep them) and reuse the run buffer: a copy costs
        // less than the page faults of fresh 4 MiB buffers
        const copies = chunks.map((c, k) => (k > 0 && c === chunks[k - 1] ? null : Buffer.from(c)));
        this.releaseScratch(scratch);
        refill();
        let last: Uint8Array | null = null;
        for (const c of copies) {
          if (c) last = c;
          yield last!;
        }
      }
    } finally {
      for (const q of queue) q.p.catch(() => {});
    }
  }

  // Groups chunks [from, to) of a list into runs of records adjacent in one pack.
  private planRuns(list: ChunkList, from: number, to: number, label?: string): Run[] {
    const runs: Run[] = [];
    let run: Run | null = null;
    for (let i = from; i < to; i++) {
      if (run && i > from && sameIdAt(list, i, i - 1)) {
        run.items.push({ i, off: 0, len: 0, repeat: true });
        continue;
      }
      const loc = this.table.get(list.id(i));
      if (!loc) throw new MissingChunksError([list.idHex(i)], label);
      if (loc.len !== list.chunkSize(i)) {
        // checked again against the bytes read; caught here before anything is allocated
        throw new InvalidChunkListError(`${label ? `${label}: ` : ''}chunk list says chunk ${list.idHex(i)} has ${list.chunkSize(i)} bytes, it has ${loc.len}`);
      }
      const pack = this.packs.get(loc.pack)!;
      if (run && run.pack === pack && loc.off === run.end + REC_HEADER && loc.off + loc.len - run.start <= READ_RUN) {
        run.items.push({ i, off: loc.off, len: loc.len, repeat: false });
        run.end = loc.off + loc.len;
      } else {
        run = { pack, start: loc.off, end: loc.off + loc.len, items: [{ i, off: loc.off, len: loc.len, repeat: false }] };
        runs.push(run);
      }
    }
    return runs;
  }

  // Reads a run with one pread (into `into` when given) and verifies every chunk in it (on the
  // hash worker when the run is big); returns the chunks' bytes.
  private async readRun(run: Run, list: ChunkList, label?: string, into?: Buffer): Promise<Uint8Array[]> {
    const size = run.end - run.start;
    const buf = await this.readAt(run.pack, run.start, size, into);
    const out: Uint8Array[] = [];
    const ranges: number[] = [];
    const which: number[] = [];
    let prev: Uint8Array | null = null;
    for (let k = 0; k < run.items.length; k++) {
      const it = run.items[k];
      let data: Uint8Array;
      if (it.repeat) {
        data = prev!;
      } else {
        const o = it.off - run.start;
        data = buf.subarray(o, o + it.len);
        if (data.length !== it.len) throw this.corrupt(list.id(it.i), label);
        ranges.push(o, it.len);
        which.push(k);
        prev = data;
      }
      // the chunk may be genuine, but the list must also tell its true length
      if (data.length !== list.chunkSize(it.i)) {
        throw new InvalidChunkListError(`${label ? `${label}: ` : ''}chunk list says chunk ${list.idHex(it.i)} has ${list.chunkSize(it.i)} bytes, it has ${data.length}`);
      }
      out.push(data);
    }
    const ids = USE_WORKER && into && buf.buffer === into.buffer && size >= INLINE_HASH
      ? await this.hasher.hashRanges(into, ranges)
      : hashRangesInline(buf, ranges);
    for (let j = 0; j < which.length; j++) {
      const id = list.id(run.items[which[j]].i);
      if (!sameId(ids.subarray(j * 32, j * 32 + 32), id)) throw this.corrupt(id, label);
    }
    return out;
  }

  private takeScratch(): Buffer {
    return this.readPool.pop() ?? Buffer.from(new SharedArrayBuffer(READ_RUN));
  }

  private releaseScratch(b: Buffer): void {
    if (this.readPool.length < 4) this.readPool.push(b);
  }

  async readOne(id: Uint8Array, loc: Loc, label?: string): Promise<Uint8Array> {
    const pack = this.packs.get(loc.pack)!;
    const data = await this.readAt(pack, loc.off, loc.len);
    if (data.length !== loc.len || !sameId(sha256(data), id)) throw this.corrupt(id, label);
    return data;
  }

  // Drops a chunk found corrupt from the index (so it reads as missing and gets fetched again)
  // and returns the error to throw.
  private corrupt(id: Uint8Array, label?: string): CorruptChunkError {
    const hex = hexOf(id);
    const loc = this.table.get(id);
    if (loc) {
      this.table.delete(id);
      const p = this.packs.get(loc.pack);
      if (p) p.idxStale = true;
    }
    this.lists.delete(hex);
    return new CorruptChunkError(hex, label);
  }

  private async readAt(pack: Pack, off: number, len: number, into?: Buffer): Promise<Buffer> {
    if (off + len > pack.readableEnd) {
      // part of it may still be queued or in flight: write it out first
      const end = pack.end;
      this.writeOut(pack);
      await Promise.all([...pack.inflight]);
      if (pack.readableEnd < end) pack.readableEnd = end;
    }
    const fh = await this.handles.get(pack);
    pack.pins++;
    try {
      const buf = into && into.length >= len ? into.subarray(0, len) : Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === len ? buf : buf.subarray(0, got);
    } finally {
      pack.pins--;
    }
  }
}

function sameIdAt(list: ChunkList, i: number, j: number): boolean {
  return sameId(list.id(i), list.id(j));
}
