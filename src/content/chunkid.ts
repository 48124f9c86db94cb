import { createHash, timingSafeEqual } from 'node:crypto';

// Chunk ids: the SHA-256 of a chunk's bytes, 32 bytes, shown as 64 hex digits. Kept as small
// functions on raw bytes (no copies) because the store calls them for every chunk.
export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

export function hexOf(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

export function idFromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length !== 64 || !/^[0-9a-fA-F]{64}$/.test(hex)) throw new TypeError(`not a chunk id (64 hex digits): ${String(hex).slice(0, 80)}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function sameId(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}
