// On-disk formats of the chunk store: pack files (append-only record logs) and their index
// files. See docs/CONTENT.md for the layout and the durability rules.
import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';

// Pack file: 8-byte magic, then records back to back.
export const PACK_MAGIC = Buffer.from('BFSPACK1', 'latin1');
export const PACK_HEADER = 8;

// Record: 32-byte chunk id | u32 BE length | u32 BE CRC-32 of the previous 36 bytes | data.
// The CRC only guards the header (so a scan can tell a torn header from a real one); the data
// is checked against the id (SHA-256) on every read.
export const REC_HEADER = 40;

export function encodeRecordHeader(id: Uint8Array, len: number): Buffer {
  const h = Buffer.allocUnsafe(REC_HEADER);
  h.set(id, 0);
  h.writeUInt32BE(len, 32);
  h.writeUInt32BE(crc32(h.subarray(0, 36)), 36);
  return h;
}

// Returns the data length of a well-formed header, or -1.
export function decodeRecordHeader(b: Uint8Array, at: number): number {
  const h = Buffer.from(b.buffer, b.byteOffset + at, REC_HEADER);
  if (crc32(h.subarray(0, 36)) !== h.readUInt32BE(36)) return -1;
  return h.readUInt32BE(32);
}

// Index file (NNNNNNNN.idx), written atomically when a pack is sealed, on close and after a
// delete; an acceleration only — a missing or damaged one just means the pack is scanned.
//   magic "BFSIDX01" | covered u64 BE (pack bytes the index describes) | count u32 BE |
//   reserved u32 | count * (id 32 | offset of data u64 BE | length u32 BE) | SHA-256 of all before
export const IDX_MAGIC = Buffer.from('BFSIDX01', 'latin1');
const IDX_HEADER = 24;
const IDX_ENTRY = 44;

export interface IdxEntry { id: Uint8Array; off: number; len: number }

export function encodeIdx(covered: number, entries: IdxEntry[]): Buffer {
  const b = Buffer.alloc(IDX_HEADER + entries.length * IDX_ENTRY + 32);
  IDX_MAGIC.copy(b, 0);
  b.writeBigUInt64BE(BigInt(covered), 8);
  b.writeUInt32BE(entries.length, 16);
  let o = IDX_HEADER;
  for (const e of entries) {
    b.set(e.id, o);
    b.writeBigUInt64BE(BigInt(e.off), o + 32);
    b.writeUInt32BE(e.len, o + 40);
    o += IDX_ENTRY;
  }
  createHash('sha256').update(b.subarray(0, o)).digest().copy(b, o);
  return b;
}

export function decodeIdx(b: Buffer): { covered: number; entries: IdxEntry[] } | null {
  if (b.length < IDX_HEADER + 32 || !b.subarray(0, 8).equals(IDX_MAGIC)) return null;
  const count = b.readUInt32BE(16);
  const end = IDX_HEADER + count * IDX_ENTRY;
  if (b.length !== end + 32) return null;
  if (!createHash('sha256').update(b.subarray(0, end)).digest().equals(b.subarray(end))) return null;
  const covered = Number(b.readBigUInt64BE(8));
  const entries: IdxEntry[] = [];
  for (let o = IDX_HEADER; o < end; o += IDX_ENTRY) {
    const off = Number(b.readBigUInt64BE(o + 32));
    const len = b.readUInt32BE(o + 40);
    if (off < PACK_HEADER + REC_HEADER || off + len > covered) return null;
    entries.push({ id: b.subarray(o, o + 32), off, len });
  }
  return { covered, entries };
}

export function packName(no: number): string {
  return String(no).padStart(8, '0') + '.pack';
}

export function idxName(no: number): string {
  return String(no).padStart(8, '0') + '.idx';
}
