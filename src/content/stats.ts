import { EMPTY_ROOT, InvalidChunkListError, type ChunkList } from './chunklist.ts';
import { hexOf, sameId } from './chunkid.ts';
import { MissingChunksError, CorruptChunkError } from './errors.ts';
import type { PackSet } from './packindex.ts';
import type { ChunkReader } from './reader.ts';

// `basefs blocks` and `status`: what the store holds, and how much of what the given roots
// need is there (each distinct chunk counted once).
export interface StoreStats {
  chunksStored: number; // distinct chunks (data chunks and chunk lists) in the store
  bytesStored: number; // their total length (each stored once)
  referenced: number; // distinct chunks (lists included) needed by the given roots
  missing: number; // how many of those are not stored
  logicalBytes: number; // sum of the sizes of the given roots, before dedup
  packBytes: number; // bytes of pack files on disk (headers included)
  packs: number;
}

export async function storeStats(set: PackSet, reader: ChunkReader, referenced?: Iterable<Uint8Array>): Promise<StoreStats> {
  let packBytes = 0;
  for (const p of set.packs.values()) packBytes += p.end;
  const out: StoreStats = { chunksStored: set.table.count, bytesStored: set.table.bytes, referenced: 0, missing: 0, logicalBytes: 0, packBytes, packs: set.packs.size };
  if (!referenced) return out;
  const seen = new Set<string>();
  for (const root of referenced) {
    const hex = hexOf(root);
    let list: ChunkList | null = null;
    try {
      list = await reader.loadList(root);
    } catch (e) {
      if (!(e instanceof MissingChunksError || e instanceof CorruptChunkError || e instanceof InvalidChunkListError)) throw e;
    }
    if (!seen.has(hex)) {
      seen.add(hex);
      out.referenced++;
      if (!list && !sameId(root, EMPTY_ROOT)) out.missing++;
    }
    if (!list) continue;
    out.logicalBytes += list.size;
    for (let i = 0; i < list.count; i++) {
      const h = list.idHex(i);
      if (seen.has(h)) continue;
      seen.add(h);
      out.referenced++;
      if (!set.table.has(list.id(i))) out.missing++;
    }
  }
  return out;
}
