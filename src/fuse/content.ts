import { MissingChunksError, type ChunkStore } from '../content/store.ts';
import { chunkBuffer } from '../content/chunker.ts';
import { ChunkListBuilder, hashBytes } from '../content/chunklist.ts';
import type { ContentIO } from './dirty.ts';

// The FUSE layer's view of the chunk store. Open files read chunk by chunk (getChunk: one
// pread and one hash check per chunk, no staging copy); the per-file chunk list, chunk cache
// and readahead live in reader.ts. Write buffers materialize with ranged reads.
//
// Writes: big files go through writeFile / writeStream (chunked and hashed as they stream,
// durable when they resolve). Small files (in-memory buffers) are chunked here and their
// chunks appended with putChunk(sync: false), exactly as writeStream would store them, so a
// batch of a thousand small files costs one flush() instead of a thousand syncs; the
// committer calls flush() before it appends the batch's entries to the log.
//
// Content of a file written elsewhere may not be here yet (the network fetches every file's
// chunks in the background). A read that meets missing chunks asks for them (`fetch`) and
// retries for up to `waitMs` before it fails with EIO.
export interface FetchOptions {
  fetch?: (root: Uint8Array) => void;
  waitMs?: number;
}

export function contentIO(store: ChunkStore, o: FetchOptions = {}): ContentIO {
  const waitMs = o.fetch ? (o.waitMs ?? 20_000) : 0;
  const patient = async <T>(root: Uint8Array, fn: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + waitMs;
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof MissingChunksError) || !o.fetch || Date.now() >= deadline) throw e;
        if (i === 0) o.fetch(root);
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** i, 500)));
      }
    }
  };
  return {
    read: (root, offset, length, label) => patient(root, () => store.read(root, offset, length, label)),
    chunkList: (root) => patient(root, () => store.chunkList(root)),
    chunk: (root, idHex, label) => patient(root, async () => {
      const c = await store.getChunk(idHex); // verified; a corrupt one is dropped and reads as missing
      if (!c) throw new MissingChunksError([idHex], label);
      return c;
    }),
    storeBuffer: (data) => store.writeBuffer(data),
    storeFile: (path) => store.writeFile(path),
    storeStream: (src) => store.writeStream(src),
    async storeSmall(data) {
      const list = new ChunkListBuilder(4);
      for (const c of data.length ? chunkBuffer(data, store.params) : []) {
        const hex = await store.putChunk(c, undefined, { sync: false });
        list.add(Buffer.from(hex, 'hex'), c.length);
      }
      const blob = list.finish();
      const root = hashBytes(blob);
      await store.putChunk(blob, undefined, { sync: false });
      return { root, size: list.size };
    },
    flush: () => store.flush(),
  };
}
