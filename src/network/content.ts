import { toHex, fromHex } from '../crypto/hash.ts';
import type { Filesystem } from '../node/filesystem.ts';
import { logger } from '../node/logger.ts';
import { FramedStream } from './frame.ts';
import { decodeMessage, encodeMessage, NET_LIMITS } from './messages.ts';
import { ProtocolError } from './wire.ts';

// Content transfer (protocol /basefs/chunks/1): one request per stream,
//   I -> R  GETCHUNKS {up to 256 chunk hashes}
//   R -> I  CHUNK {hash, data}*  then CHUNKSEND {hashes it does not hold}
// Every received chunk is stored with ChunkStore.putChunk, which checks it against its hash;
// a chunk we did not ask for or that does not match is a protocol error.

export type OpenStream = (peer: string) => Promise<FramedStream>;

export async function serveChunks(fs: Filesystem, fsm: FramedStream, onSent: (bytes: number) => void): Promise<void> {
  const f = await fsm.read();
  if (!f) return;
  const m = decodeMessage(f);
  if (m.t !== 'getchunks') throw new ProtocolError(`expected GETCHUNKS, got ${m.t}`);
  const missing: Uint8Array[] = [];
  for (const h of m.hashes) {
    const data = await fs.content.getChunk(toHex(h)).catch(() => null);
    if (!data) {
      missing.push(h);
      continue;
    }
    await fsm.write(encodeMessage({ t: 'chunk', hash: h, data }));
    onSent(data.length);
  }
  await fsm.write(encodeMessage({ t: 'chunksend', missing }));
  await fsm.close();
}

// Asks one peer for chunks; stores those it sends. Returns the hashes it stored.
export async function requestChunks(fs: Filesystem, fsm: FramedStream, hashes: Uint8Array[], onChunk?: (bytes: number) => void): Promise<string[]> {
  const wanted = new Set(hashes.map(toHex));
  const got: string[] = [];
  await fsm.write(encodeMessage({ t: 'getchunks', hashes }));
  for (;;) {
    const f = await fsm.read();
    if (!f) throw new ProtocolError('peer closed the chunk stream early');
    const m = decodeMessage(f);
    if (m.t === 'chunksend') break;
    if (m.t === 'error') throw new ProtocolError(`peer: ${m.message}`);
    if (m.t !== 'chunk') throw new ProtocolError(`expected CHUNK, got ${m.t}`);
    const hx = toHex(m.hash);
    if (!wanted.has(hx)) throw new ProtocolError('peer sent a chunk we did not ask for');
    wanted.delete(hx);
    await fs.content.putChunk(m.data, hx, { sync: false }); // verifies the hash
    got.push(hx);
    onChunk?.(m.data.length);
  }
  if (got.length) await fs.content.flush();
  await fsm.close();
  return got;
}

export interface ContentProgress {
  files: number;
  filesDone: number;
  chunks: number;
  bytes: number;
}

// Keeps the chunks of every file in the view local: a queue of content roots, each fetched
// (its chunk list first, then the chunks it names) from the peers that may hold it, with
// bounded concurrency.
export class ContentFetcher {
  private fs: Filesystem;
  private open: OpenStream;
  private peers: () => string[];
  private queue = new Map<string, string | null>(); // root hex -> preferred peer
  private running = 0;
  private stopped = false;
  concurrency = 3;
  inTransfer = 0;
  chunksIn = 0;
  bytesIn = 0;
  failures = 0;
  private idle: (() => void)[] = [];

  constructor(fs: Filesystem, open: OpenStream, peers: () => string[]) {
    this.fs = fs;
    this.open = open;
    this.peers = peers;
  }

  get queued(): number {
    return this.queue.size;
  }

  enqueue(root: Uint8Array, peer: string | null = null): void {
    if (this.stopped) return;
    const k = toHex(root);
    if (!this.queue.has(k) || peer) this.queue.set(k, peer);
    this.pump();
  }

  // Every file root in the current view.
  enqueueAll(peer: string | null = null): void {
    for (const r of this.fs.contentRoots()) this.enqueue(r, peer);
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.queue.size) {
      const [k, peer] = this.queue.entries().next().value as [string, string | null];
      this.queue.delete(k);
      this.running++;
      this.fetchRoot(fromHex(k), peer)
        .catch((e) => {
          this.failures++;
          logger.debug({ err: (e as Error).message }, 'content fetch failed');
        })
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.size === 0) for (const f of this.idle.splice(0)) f();
        });
    }
  }

  whenIdle(): Promise<void> {
    if (this.running === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  // Fetches what is missing of one file; returns true when it is complete.
  async fetchRoot(root: Uint8Array, prefer: string | null, onChunk?: (bytes: number) => void): Promise<boolean> {
    let missing = await this.fs.content.missing(root);
    if (missing.length === 0) return true;
    const tried = new Set<string>();
    for (let round = 0; round < 1000 && missing.length && !this.stopped; round++) {
      const candidates = [prefer, ...this.peers()].filter((p): p is string => !!p && !tried.has(p));
      if (candidates.length === 0) return false;
      const peer = candidates[0];
      let progress = false;
      try {
        for (let i = 0; i < missing.length; i += NET_LIMITS.maxChunksPerRequest) {
          const batch = missing.slice(i, i + NET_LIMITS.maxChunksPerRequest).map(fromHex);
          let pending = batch.length;
          this.inTransfer += pending;
          try {
            const fsm = await this.open(peer);
            const got = await requestChunks(this.fs, fsm, batch, (b) => {
              this.chunksIn++;
              this.bytesIn += b;
              pending--;
              this.inTransfer--;
              onChunk?.(b);
            });
            if (got.length) progress = true;
          } finally {
            this.inTransfer -= pending;
          }
        }
      } catch (e) {
        logger.debug({ peer, err: (e as Error).message }, 'chunk request failed');
      }
      const next = await this.fs.content.missing(root);
      if (!progress) {
        tried.add(peer);
        if (peer === prefer) prefer = null;
      }
      missing = next;
    }
    return missing.length === 0;
  }

  stop(): void {
    this.stopped = true;
    this.queue.clear();
    for (const f of this.idle.splice(0)) f();
  }
}
