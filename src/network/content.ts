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

// Keeps the chunks of every file in the view local. Roots wait in a queue; a job takes up to
// 512 of them and fetches what they miss in rounds: first the missing chunk lists, then the
// missing chunks they name, 256 hashes per request, several requests in flight, all from one
// peer while it makes progress, then from the next. Bounded: `concurrency` jobs at a time.
export class ContentFetcher {
  private fs: Filesystem;
  private open: OpenStream;
  private peers: () => string[];
  private queue = new Map<string, string | null>(); // root hex -> preferred peer
  private running = 0;
  private active = new Set<string>(); // roots being fetched right now: never fetched twice at once
  private stopped = false;
  concurrency = 2;
  requestsInFlight = 4; // per job
  inTransfer = 0;
  chunksIn = 0;
  bytesIn = 0;
  failures = 0;
  private idle: (() => void)[] = [];
  private failed = new Set<string>(); // roots no peer could complete yet (retried later)

  constructor(fs: Filesystem, open: OpenStream, peers: () => string[]) {
    this.fs = fs;
    this.open = open;
    this.peers = peers;
  }

  get queued(): number {
    return this.queue.size;
  }

  get incomplete(): number {
    return this.failed.size;
  }

  enqueue(root: Uint8Array, peer: string | null = null): void {
    if (this.stopped) return;
    const k = toHex(root);
    if (this.active.has(k)) return; // a failure puts it in `failed`, which is retried
    if (!this.queue.has(k) || peer) this.queue.set(k, peer);
    this.pump();
  }

  // Tries again the files no peer could complete so far (e.g. after new peers connected).
  retryFailed(peer: string | null = null): void {
    for (const k of this.failed) if (!this.queue.has(k)) this.enqueue(fromHex(k), peer);
  }

  // Every file root in the current view.
  enqueueAll(peer: string | null = null): void {
    for (const r of this.fs.contentRoots()) this.enqueue(r, peer);
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.queue.size) {
      const roots: string[] = [];
      let prefer: string | null = null;
      for (const [k, p] of this.queue) {
        if (roots.length >= 512) break;
        roots.push(k);
        prefer ??= p;
      }
      for (const k of roots) {
        this.queue.delete(k);
        this.active.add(k);
      }
      this.running++;
      this.fetchMany(roots.map(fromHex), prefer)
        .then((left) => {
          const l = new Set(left);
          for (const k of roots) {
            if (l.has(k)) this.failed.add(k);
            else this.failed.delete(k);
          }
        })
        .catch((e) => {
          this.failures++;
          for (const k of roots) this.failed.add(k);
          logger.debug({ err: (e as Error).message }, 'content fetch failed');
        })
        .finally(() => {
          for (const k of roots) this.active.delete(k);
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

  // Fetches what is missing of these files; returns the roots (hex) still incomplete.
  // onFile is called once per root that is complete.
  async fetchMany(roots: Uint8Array[], prefer: string | null, onChunk?: (bytes: number) => void, onFile?: (rootHex: string) => void): Promise<string[]> {
    let pending = roots.map(toHex);
    const tried = new Set<string>();
    let peer: string | null = null;
    for (let round = 0; round < 10_000 && !this.stopped; round++) {
      const need = new Set<string>();
      const still: string[] = [];
      for (const r of pending) {
        const m = await this.fs.content.missing(fromHex(r));
        if (m.length === 0) {
          onFile?.(r);
          continue;
        }
        still.push(r);
        for (const h of m) need.add(h);
      }
      pending = still;
      if (pending.length === 0) return [];
      if (!peer) {
        peer = [prefer, ...this.peers()].find((p): p is string => !!p && !tried.has(p)) ?? null;
        if (!peer) return pending;
      }
      const hashes = [...need];
      let got = 0;
      const batches: Uint8Array[][] = [];
      for (let i = 0; i < hashes.length; i += NET_LIMITS.maxChunksPerRequest) batches.push(hashes.slice(i, i + NET_LIMITS.maxChunksPerRequest).map(fromHex));
      const p = peer;
      const worker = async () => {
        for (;;) {
          const batch = batches.shift();
          if (!batch || this.stopped) return;
          let left = batch.length;
          this.inTransfer += left;
          try {
            const fsm = await this.open(p);
            const r = await requestChunks(this.fs, fsm, batch, (b) => {
              this.chunksIn++;
              this.bytesIn += b;
              left--;
              this.inTransfer--;
              onChunk?.(b);
            });
            got += r.length;
          } catch (e) {
            logger.debug({ peer: p, err: (e as Error).message }, 'chunk request failed');
            batches.length = 0; // this peer is failing: stop asking it in this round
          } finally {
            this.inTransfer -= left;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.requestsInFlight, batches.length) }, worker));
      if (got === 0) {
        tried.add(peer);
        peer = null;
      }
    }
    return pending;
  }

  // One file (kept for callers that want a yes/no).
  async fetchRoot(root: Uint8Array, prefer: string | null, onChunk?: (bytes: number) => void): Promise<boolean> {
    return (await this.fetchMany([root], prefer, onChunk)).length === 0;
  }

  stop(): void {
    this.stopped = true;
    this.queue.clear();
    for (const f of this.idle.splice(0)) f();
  }
}
