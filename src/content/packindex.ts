import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicAsync } from '../crypto/atomic.ts';
import type { IdTable } from './idtable.ts';
import { sha256, sameId } from './chunkid.ts';
import { syncDir } from './fileio.ts';
import { Pack, type PackHandles } from './packstate.ts';
import { PACK_MAGIC, PACK_HEADER, REC_HEADER, decodeRecordHeader, encodeIdx, decodeIdx, packName, idxName, type IdxEntry } from './pack.ts';

// Where the chunks of the pack files are: at open, each pack's index file covers its start
// and the rest is scanned, every record verified; index files are written when a pack is
// sealed, a chunk deleted or the store closed, so the next open scans little.

// The pack files of one store and the table of where each chunk is.
export interface PackSet {
  dir: string; // the packs/ directory
  readOnly: boolean;
  table: IdTable;
  packs: Map<number, Pack>;
  handles: PackHandles;
}

// Opens pack `no` (a header-less one is removed: nothing in it was acknowledged), adds it to
// set.packs and its chunks to the table.
export async function loadPack(set: PackSet, no: number): Promise<void> {
  const path = join(set.dir, packName(no));
  const fh = await open(path, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
    if (size < PACK_HEADER) {
      // created but never got its header: nothing in it was ever acknowledged
      await fh.close();
      if (!set.readOnly) await unlink(path);
      return;
    }
    const head = Buffer.alloc(PACK_HEADER);
    await fh.read(head, 0, PACK_HEADER, 0);
    if (!head.equals(PACK_MAGIC)) throw new Error(`${path} is not a basefs pack file`);
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
  const pack = new Pack(no, path, size);
  set.handles.adopt(pack, fh);
  set.handles.touch(pack);
  set.packs.set(no, pack);
  let from = PACK_HEADER;
  const idx = await readFile(join(set.dir, idxName(no))).catch(() => null);
  const parsed = idx ? decodeIdx(idx) : null;
  if (parsed && parsed.covered <= size) {
    for (const e of parsed.entries) set.table.set(e.id, no, e.off, e.len);
    from = parsed.covered;
    pack.idxCovered = parsed.covered;
    pack.idxStale = parsed.covered < size;
  }
  if (from < size) await scanPack(set.table, pack, from, size);
  else pack.idxStale = false;
}

// Reads records in [from, to), verifying each one's hash: a torn or corrupt record is left
// out of the index (it reads as missing); a header that does not parse ends the scan and
// the pack is never appended to again.
async function scanPack(table: IdTable, pack: Pack, from: number, to: number): Promise<void> {
  const fh = pack.fh!;
  const BLOCK = 8 * 1024 * 1024;
  let pos = from;
  const buf = Buffer.allocUnsafe(BLOCK);
  while (pos < to) {
    const want = Math.min(BLOCK, to - pos);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead < Math.min(REC_HEADER, want)) break;
    let p = 0;
    for (;;) {
      if (p + REC_HEADER > bytesRead) {
        if (pos + p + REC_HEADER > to) { markDamaged(pack, pos + p); return; }
        break;
      }
      const len = decodeRecordHeader(buf, p);
      if (len < 0 || pos + p + REC_HEADER + len > to) { markDamaged(pack, pos + p); return; }
      let data: Uint8Array;
      if (p + REC_HEADER + len <= bytesRead) {
        data = buf.subarray(p + REC_HEADER, p + REC_HEADER + len);
      } else if (p === 0) {
        const big = Buffer.allocUnsafe(len);
        const r = await fh.read(big, 0, len, pos + REC_HEADER);
        if (r.bytesRead !== len) { markDamaged(pack, pos); return; }
        data = big;
      } else {
        break;
      }
      const id = buf.subarray(p, p + 32);
      if (sameId(sha256(data), id)) table.set(id, pack.no, pos + p + REC_HEADER, len);
      p += REC_HEADER + len;
      if (p >= bytesRead) break;
    }
    pos += p;
  }
  pack.idxStale = true;
}

function markDamaged(pack: Pack, at: number): void {
  pack.damaged = true;
  pack.validEnd = at;
  pack.idxStale = true;
}

// Index files for several packs, from one pass over the table.
export async function writeIndexes(set: PackSet, packs: Pack[]): Promise<void> {
  if (set.readOnly || packs.length === 0) return;
  const byNo = new Map<number, { pack: Pack; covered: number; entries: IdxEntry[] }>();
  for (const p of packs) byNo.set(p.no, { pack: p, covered: p.damaged ? p.validEnd : p.syncedEnd, entries: [] });
  for (const e of set.table.entries()) {
    const w = byNo.get(e.pack);
    if (w && e.off + e.len <= w.covered) w.entries.push({ id: e.id, off: e.off, len: e.len });
  }
  for (const w of byNo.values()) {
    w.entries.sort((a, b) => a.off - b.off);
    await writeIndexFile(set.dir, w.pack, w.covered, w.entries);
  }
}

async function writeIndexFile(dir: string, pack: Pack, covered: number, entries: IdxEntry[]): Promise<void> {
  const final = join(dir, idxName(pack.no));
  await writeFileAtomicAsync(final, encodeIdx(covered, entries), 0o600);
  await syncDir(dir);
  pack.idxCovered = covered;
  pack.idxStale = false;
}
