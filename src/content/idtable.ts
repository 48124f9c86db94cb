// In-memory index of stored chunks: 32-byte id -> (pack, offset, length), an open-addressing
// hash table in typed arrays (no per-entry JS objects, so no GC pressure with millions of
// chunks). About 48 bytes per slot at a load factor of at most 1/2: ~100 bytes per stored
// chunk, ~1.5 MB of RAM per GiB of distinct content at 64 KiB chunks.

const EMPTY = 0;
const TOMB = 0xffffffff;

export interface Loc { pack: number; off: number; len: number }

export class IdTable {
  private cap: number;
  private mask: number;
  private ids: Uint8Array; // cap * 32
  private ids32: Uint32Array;
  private packs: Uint32Array; // 0 = empty, TOMB = deleted, else pack number (>= 1)
  private offs: Float64Array;
  private lens: Uint32Array;
  private used = 0; // live + tombstones
  count = 0;
  bytes = 0; // sum of lengths of live entries
  private readonly key = new Uint8Array(32);
  private readonly key32 = new Uint32Array(this.key.buffer);

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.ids = new Uint8Array(cap * 32);
    this.ids32 = new Uint32Array(this.ids.buffer);
    this.packs = new Uint32Array(cap);
    this.offs = new Float64Array(cap);
    this.lens = new Uint32Array(cap);
  }

  // Slot holding id, or -1. Leaves the id in this.key.
  private find(id: Uint8Array): number {
    if (id.length !== 32) throw new RangeError('chunk id must be 32 bytes');
    this.key.set(id);
    const k = this.key32;
    let s = k[0] & this.mask;
    for (;;) {
      const p = this.packs[s];
      if (p === EMPTY) return -1;
      if (p !== TOMB) {
        const b = s * 8;
        const w = this.ids32;
        if (w[b] === k[0] && w[b + 1] === k[1] && w[b + 2] === k[2] && w[b + 3] === k[3] &&
          w[b + 4] === k[4] && w[b + 5] === k[5] && w[b + 6] === k[6] && w[b + 7] === k[7]) return s;
      }
      s = (s + 1) & this.mask;
    }
  }

  has(id: Uint8Array): boolean {
    return this.find(id) >= 0;
  }

  get(id: Uint8Array): Loc | undefined {
    const s = this.find(id);
    if (s < 0) return undefined;
    return { pack: this.packs[s], off: this.offs[s], len: this.lens[s] };
  }

  // Inserts or replaces (a later copy of a chunk wins).
  set(id: Uint8Array, pack: number, off: number, len: number): void {
    if (pack < 1 || pack >= TOMB) throw new RangeError(`bad pack number ${pack}`);
    let s = this.find(id);
    if (s >= 0) {
      this.bytes += len - this.lens[s];
      this.packs[s] = pack;
      this.offs[s] = off;
      this.lens[s] = len;
      return;
    }
    if ((this.used + 1) * 2 > this.cap) {
      this.rehash(this.count + 1 > this.cap / 4 ? this.cap * 2 : this.cap);
      this.key.set(id);
    }
    const k = this.key32;
    s = k[0] & this.mask;
    while (this.packs[s] !== EMPTY && this.packs[s] !== TOMB) s = (s + 1) & this.mask;
    if (this.packs[s] === EMPTY) this.used++;
    this.ids32.set(k, s * 8);
    this.packs[s] = pack;
    this.offs[s] = off;
    this.lens[s] = len;
    this.count++;
    this.bytes += len;
  }

  delete(id: Uint8Array): boolean {
    const s = this.find(id);
    if (s < 0) return false;
    this.packs[s] = TOMB;
    this.count--;
    this.bytes -= this.lens[s];
    return true;
  }

  *entries(): Generator<{ id: Uint8Array; pack: number; off: number; len: number }> {
    for (let s = 0; s < this.cap; s++) {
      const p = this.packs[s];
      if (p !== EMPTY && p !== TOMB) yield { id: this.ids.slice(s * 32, s * 32 + 32), pack: p, off: this.offs[s], len: this.lens[s] };
    }
  }

  private rehash(newCap: number): void {
    const old = { cap: this.cap, ids32: this.ids32, packs: this.packs, offs: this.offs, lens: this.lens };
    this.cap = newCap;
    this.mask = newCap - 1;
    this.ids = new Uint8Array(newCap * 32);
    this.ids32 = new Uint32Array(this.ids.buffer);
    this.packs = new Uint32Array(newCap);
    this.offs = new Float64Array(newCap);
    this.lens = new Uint32Array(newCap);
    this.used = this.count;
    for (let o = 0; o < old.cap; o++) {
      const p = old.packs[o];
      if (p === EMPTY || p === TOMB) continue;
      let s = old.ids32[o * 8] & this.mask;
      while (this.packs[s] !== EMPTY) s = (s + 1) & this.mask;
      this.ids32.set(old.ids32.subarray(o * 8, o * 8 + 8), s * 8);
      this.packs[s] = p;
      this.offs[s] = old.offs[o];
      this.lens[s] = old.lens[o];
    }
  }
}
