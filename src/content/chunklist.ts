// The chunk list: canonical description of a file's content. Its SHA-256 is the file's root.
//
//   offset  size  field
//   0       4     magic "BFCL"
//   4       1     version = 1
//   5       3     reserved, zero
//   8       8     total content size, unsigned big-endian (<= 2^53 - 1)
//   16      36*n  per chunk, in file order: 32-byte SHA-256 of the chunk, then its length as
//                 unsigned 32-bit big-endian (>= 1)
//
// Exactly one encoding is accepted for a given content (lengths sum to the total, no trailing
// bytes, reserved bytes zero), so equal contents always have equal roots.
import { createHash } from 'node:crypto';

export const LIST_MAGIC = Uint8Array.of(0x42, 0x46, 0x43, 0x4c); // "BFCL"
export const LIST_VERSION = 1;
export const LIST_HEADER = 16;
export const LIST_ENTRY = 36;

export class InvalidChunkListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidChunkListError';
  }
}

export function hashBytes(data: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(data).digest();
  return new Uint8Array(d.buffer, d.byteOffset, 32);
}

// Growing encoder used while a file is chunked.
export class ChunkListBuilder {
  private buf: Uint8Array;
  private view: DataView;
  private len = LIST_HEADER;
  private total = 0;
  count = 0;

  constructor(expectedChunks = 64) {
    this.buf = new Uint8Array(LIST_HEADER + LIST_ENTRY * Math.max(1, expectedChunks));
    this.view = new DataView(this.buf.buffer);
  }

  get size(): number { return this.total; }

  add(id: Uint8Array, size: number): void {
    if (id.length !== 32) throw new RangeError('chunk id must be 32 bytes');
    if (!Number.isInteger(size) || size < 1 || size > 0xffffffff) throw new RangeError(`bad chunk size ${size}`);
    if (this.len + LIST_ENTRY > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.buf.set(id, this.len);
    this.view.setUint32(this.len + 32, size);
    this.len += LIST_ENTRY;
    this.total += size;
    this.count++;
  }

  finish(): Uint8Array {
    if (this.total > Number.MAX_SAFE_INTEGER) throw new RangeError('content too large');
    const out = this.buf.slice(0, this.len);
    out.set(LIST_MAGIC, 0);
    out[4] = LIST_VERSION;
    new DataView(out.buffer).setBigUint64(8, BigInt(this.total));
    return out;
  }
}

export function encodeChunkList(entries: Iterable<{ id: Uint8Array; size: number }>): Uint8Array {
  const b = new ChunkListBuilder();
  for (const e of entries) b.add(e.id, e.size);
  return b.finish();
}

// Parsed, validated list kept compactly: ids stay in the blob, offsets in a Float64Array.
export class ChunkList {
  readonly blob: Uint8Array;
  readonly count: number;
  readonly size: number;
  readonly offsets: Float64Array; // offsets[i] = start of chunk i; offsets[count] = size

  constructor(blob: Uint8Array) {
    if (blob.length < LIST_HEADER) throw new InvalidChunkListError(`chunk list too short (${blob.length} bytes)`);
    for (let i = 0; i < 4; i++) if (blob[i] !== LIST_MAGIC[i]) throw new InvalidChunkListError('not a chunk list (bad magic)');
    if (blob[4] !== LIST_VERSION) throw new InvalidChunkListError(`unsupported chunk list version ${blob[4]}`);
    if (blob[5] !== 0 || blob[6] !== 0 || blob[7] !== 0) throw new InvalidChunkListError('chunk list reserved bytes not zero');
    if ((blob.length - LIST_HEADER) % LIST_ENTRY !== 0) throw new InvalidChunkListError('chunk list length is not header + 36*n');
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const total = view.getBigUint64(8);
    if (total > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidChunkListError('chunk list total size too large');
    const count = (blob.length - LIST_HEADER) / LIST_ENTRY;
    const offsets = new Float64Array(count + 1);
    let off = 0;
    for (let i = 0; i < count; i++) {
      offsets[i] = off;
      const s = view.getUint32(LIST_HEADER + i * LIST_ENTRY + 32);
      if (s === 0) throw new InvalidChunkListError(`chunk list entry ${i} has length 0`);
      off += s;
    }
    offsets[count] = off;
    if (off !== Number(total)) throw new InvalidChunkListError(`chunk list sizes sum to ${off}, header says ${total}`);
    this.blob = blob;
    this.count = count;
    this.size = off;
    this.offsets = offsets;
  }

  id(i: number): Uint8Array {
    const o = LIST_HEADER + i * LIST_ENTRY;
    return this.blob.subarray(o, o + 32);
  }

  idHex(i: number): string {
    const o = LIST_HEADER + i * LIST_ENTRY;
    return Buffer.from(this.blob.buffer, this.blob.byteOffset + o, 32).toString('hex');
  }

  chunkSize(i: number): number {
    return this.offsets[i + 1] - this.offsets[i];
  }

  // Index of the chunk holding byte `pos` (0 <= pos < size).
  find(pos: number): number {
    let lo = 0;
    let hi = this.count - 1;
    const o = this.offsets;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (o[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

export const EMPTY_LIST: Uint8Array = new ChunkListBuilder(0).finish();
export const EMPTY_ROOT: Uint8Array = hashBytes(EMPTY_LIST);
