import { createHash, hash } from 'node:crypto';

// SHA-256 everywhere: node:crypto runs it at ~1.5 GB/s here, 8x faster than a JS implementation.
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) {
    const b = hash('sha256', parts[0], 'buffer');
    return new Uint8Array(b.buffer, b.byteOffset, 32);
  }
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest().buffer, 0, 32);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error(`not a hex string: ${s.slice(0, 20)}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.compare(a, b) === 0;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
