import type { ChunkList } from './chunklist.ts';

// Chunk lists recently read or written, by root (hex), least recently used first out, bounded
// by their total bytes: a read of a big file looks its list up for every request.
const LIST_CACHE_BYTES = 32 * 1024 * 1024;

export class ListCache {
  private readonly lists = new Map<string, ChunkList>();
  private bytes = 0;

  get(hex: string): ChunkList | undefined {
    const cached = this.lists.get(hex);
    if (cached) {
      this.lists.delete(hex); // LRU: move to the back
      this.lists.set(hex, cached);
    }
    return cached;
  }

  set(hex: string, list: ChunkList): void {
    if (list.blob.length > LIST_CACHE_BYTES / 4) return;
    this.delete(hex);
    this.lists.set(hex, list);
    this.bytes += list.blob.length;
    for (const [k, v] of this.lists) {
      if (this.bytes <= LIST_CACHE_BYTES) break;
      this.lists.delete(k);
      this.bytes -= v.blob.length;
    }
  }

  delete(hex: string): void {
    const old = this.lists.get(hex);
    if (!old) return;
    this.lists.delete(hex);
    this.bytes -= old.blob.length;
  }

  clear(): void {
    this.lists.clear();
    this.bytes = 0;
  }
}
