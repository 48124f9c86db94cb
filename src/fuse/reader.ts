import type { ContentIO } from './dirty.ts';
import { sizeMismatch } from '../errors/errors.ts';

const READAHEAD = 8 * 1024 * 1024; // fetched ahead of a sequential reader
const CACHE = 16 * 1024 * 1024; // verified chunks kept per open file
const PARALLEL = 16; // chunk reads in flight per open file

// Reads of one open file, pinned to the content root it had at open. Keeps the file's chunk
// list and the chunks it read last (verified, by index), fetches exactly the chunks a read
// needs, and for a sequential reader fetches the next few MiB ahead.
export class Reader {
  private io: ContentIO;
  private root: Uint8Array;
  readonly size: number;
  private label: string;
  private offsets: Float64Array | null = null; // chunk i covers [offsets[i], offsets[i+1])
  private ids: string[] = [];
  private listing: Promise<Float64Array> | null = null;
  private cache = new Map<number, Uint8Array>();
  private cached = 0;
  private fetching = new Map<number, Promise<void>>();
  private active = 0;
  private waiting: (() => void)[] = [];
  private lastEnd = -1;

  constructor(io: ContentIO, root: Uint8Array, size: number, label: string) {
    this.io = io;
    this.root = root;
    this.size = size;
    this.label = label;
  }

  private list(): Promise<Float64Array> {
    if (this.offsets) return Promise.resolve(this.offsets);
    this.listing ??= this.io.chunkList(this.root).then((l) => {
      const actual = l.length ? l[l.length - 1].offset + l[l.length - 1].size : 0;
      if (actual !== this.size) throw sizeMismatch(this.label, this.size, actual);
      const o = new Float64Array(l.length + 1);
      const ids: string[] = new Array(l.length);
      for (let i = 0; i < l.length; i++) {
        o[i] = l[i].offset;
        ids[i] = Buffer.from(l[i].id.buffer, l[i].id.byteOffset, l[i].id.length).toString('hex');
      }
      o[l.length] = this.size;
      this.ids = ids;
      this.offsets = o;
      return o;
    });
    this.listing.catch(() => { this.listing = null; });
    return this.listing;
  }

  private static find(o: Float64Array, pos: number): number {
    let lo = 0;
    let hi = o.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (o[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private put(i: number, data: Uint8Array): void {
    if (this.cache.has(i)) return;
    this.cache.set(i, data);
    this.cached += data.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= CACHE) break;
      this.cache.delete(k);
      this.cached -= v.length;
    }
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= PARALLEL) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  // Starts fetching chunks [a, b] that are neither cached nor on their way.
  private ensure(a: number, b: number): Promise<void>[] {
    const waits: Promise<void>[] = [];
    for (let i = a; i <= b; i++) {
      const f = this.fetching.get(i);
      if (f) {
        waits.push(f);
        continue;
      }
      const c = this.cache.get(i);
      if (c) {
        this.cache.delete(i); // LRU: move to the back
        this.cache.set(i, c);
        continue;
      }
      const p = this.slot(() => this.io.chunk(this.root, this.ids[i], this.label)).then((data) => {
        this.put(i, data);
      }).finally(() => {
        this.fetching.delete(i);
      });
      this.fetching.set(i, p);
      waits.push(p);
    }
    return waits;
  }

  async read(dst: Buffer, len: number, pos: number): Promise<number> {
    const n = Math.min(len, this.size - pos);
    if (n <= 0) return 0;
    const o = await this.list();
    const first = Reader.find(o, pos);
    const last = Reader.find(o, pos + n - 1);
    const sequential = pos === this.lastEnd || (pos === 0 && this.lastEnd < 0);
    this.lastEnd = pos + n;
    const waits = this.ensure(first, last);
    if (sequential && pos + n < this.size) {
      const ahead = Reader.find(o, Math.min(this.size - 1, pos + n + READAHEAD));
      if (ahead > last) for (const p of this.ensure(last + 1, ahead)) p.catch(() => {});
    }
    await Promise.all(waits);
    let done = 0;
    for (let i = first; i <= last; i++) {
      let c = this.cache.get(i);
      if (!c) {
        // evicted by later arrivals before we got here: fetch it again
        await Promise.all(this.ensure(i, i));
        c = this.cache.get(i);
        if (!c) throw Object.assign(new Error(`chunk ${i} of ${this.label} vanished from the cache`), { code: 'EIO' });
      }
      const cs = o[i];
      const a = Math.max(pos, cs);
      const b = Math.min(pos + n, cs + c.length);
      dst.set(c.subarray(a - cs, b - cs), done);
      done += b - a;
    }
    return done;
  }
}
