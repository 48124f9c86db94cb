// SHA-256 of many byte ranges of a SharedArrayBuffer on a worker thread, so chunk hashing runs
// on the second core while the main thread chunks (writes) or copies (reads). The bytes are
// shared, not copied; one message per batch of ranges (a few MiB), not per chunk.
// (crypto.subtle.digest also runs off-thread, but its per-call overhead on the main thread —
// WebIDL conversion, a copy, a promise — costs about as much as hashing a 64 KiB chunk.)
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';

// Less than this is hashed on the calling thread (no round trip to the worker).
export const INLINE_HASH = 256 * 1024;
// BASEFS_HASH_WORKER=0 hashes everything on the main thread (for measurements)
export const USE_WORKER = process.env.BASEFS_HASH_WORKER !== '0';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const buf = Buffer.from(m.sab);
  const n = m.ranges.length / 2;
  const out = new Uint8Array(n * 32);
  for (let k = 0; k < n; k++) {
    const off = m.ranges[2 * k];
    const len = m.ranges[2 * k + 1];
    out.set(createHash('sha256').update(buf.subarray(off, off + len)).digest(), k * 32);
  }
  parentPort.postMessage({ seq: m.seq, out }, [out.buffer]);
});
`;

export function hashRangesInline(buf: Uint8Array, ranges: number[]): Uint8Array {
  const n = ranges.length / 2;
  const out = new Uint8Array(n * 32);
  for (let k = 0; k < n; k++) {
    const off = ranges[2 * k];
    out.set(createHash('sha256').update(buf.subarray(off, off + ranges[2 * k + 1])).digest(), k * 32);
  }
  return out;
}

export class Hasher {
  private worker: Worker | null = null;
  private broken = false;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: Uint8Array) => void; reject: (e: Error) => void }>();

  // Hashes buf[off, off+len) for each (off, len) pair; returns the 32-byte digests back to back.
  // buf must be a view of a SharedArrayBuffer (starting at its byte 0) for the worker to see it;
  // otherwise, or when the worker is unavailable, hashes inline.
  async hashRanges(buf: Uint8Array, ranges: number[]): Promise<Uint8Array> {
    const w = this.broken || !(buf.buffer instanceof SharedArrayBuffer) || buf.byteOffset !== 0 ? null : this.start();
    if (!w) return hashRangesInline(buf, ranges);
    const seq = ++this.seq;
    const p = new Promise<Uint8Array>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    if (this.waiting.size === 1) w.ref();
    w.postMessage({ seq, sab: buf.buffer, ranges });
    // the bytes are still there: if the worker dies, hash them here
    return p.catch(() => hashRangesInline(buf, ranges));
  }

  private start(): Worker | null {
    if (this.worker) return this.worker;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, name: 'basefs-hasher' });
      w.on('message', (m: { seq: number; out: Uint8Array }) => {
        const h = this.waiting.get(m.seq);
        if (!h) return;
        this.waiting.delete(m.seq);
        if (this.waiting.size === 0) w.unref();
        h.resolve(m.out);
      });
      const fail = (e: Error) => {
        this.broken = true;
        this.worker = null;
        for (const h of this.waiting.values()) h.reject(e);
        this.waiting.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => { if (this.worker === w) fail(new Error(`hash worker exited (${code})`)); });
      w.unref();
      this.worker = w;
      return w;
    } catch {
      this.broken = true;
      return null;
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.broken = true;
    if (w) await w.terminate();
    for (const h of this.waiting.values()) h.reject(new Error('hasher closed'));
    this.waiting.clear();
  }
}
