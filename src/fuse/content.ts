import type { ChunkStore } from '../content/store.ts';
import type { ContentIO, ReadCache } from './dirty.ts';

// The FUSE layer's view of the chunk store. Reads fetch only the chunks covering the range
// (ChunkStore.read plans runs over the chunk list); the chunk list itself is kept by the store
// in an LRU keyed by root, and each open file remembers the root it pinned at open.
export function contentIO(store: ChunkStore): ContentIO {
  return {
    read(root: Uint8Array, offset: number, length: number, label: string, cache: ReadCache) {
      cache.root = root;
      return store.read(root, offset, length, label);
    },
    storeBuffer(data: Uint8Array) {
      return store.writeBuffer(data);
    },
    storeFile(path: string) {
      return store.writeFile(path);
    },
  };
}
