import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

// The state of one pack file while the store is open (content/pack.ts has its format on disk),
// and the cache of their file handles.
const MAX_OPEN_PACKS = 256;

export class Pack {
  no: number;
  path: string;
  fh: FileHandle | null = null;
  end: number; // append offset (= file size unless damaged)
  writable = false;
  damaged = false; // a record header that does not parse: never appended to again
  validEnd: number; // end of the last record that parsed (== end unless damaged)
  idxCovered = 0; // bytes described by the index file on disk
  idxStale = true;
  cur: Buffer | null = null; // batch being filled
  curLen = 0;
  curStart: number; // pack offset of cur[0]
  inflight = new Set<Promise<void>>();
  appendSeq = 0; // records appended
  syncedSeq = 0; // records known durable
  readableEnd: number; // every byte below is in the file (not only in pending/inflight)
  syncedEnd: number; // every byte below is on stable storage
  sinceEarlySync = 0;
  earlySync: Promise<void> | null = null;
  pins = 0;
  lastUse = 0;

  constructor(no: number, path: string, end: number) {
    this.no = no;
    this.path = path;
    this.end = end;
    this.validEnd = end;
    this.curStart = end;
    this.readableEnd = end;
    this.syncedEnd = end;
  }
}

// Open handles of the packs, at most MAX_OPEN_PACKS: beyond that the least recently used is
// closed, never one being appended to, read (pinned) or with writes in flight.
export class PackHandles {
  private readonly packs: Map<number, Pack>;
  private count = 0; // handles open
  private clock = 0;

  constructor(packs: Map<number, Pack>) {
    this.packs = packs;
  }

  touch(pack: Pack): void {
    pack.lastUse = ++this.clock;
  }

  // Takes a handle the store opened itself (a pack being loaded, created or made writable).
  adopt(pack: Pack, fh: FileHandle): void {
    pack.fh = fh;
    this.count++;
  }

  // The pack's handle, opened for reading when it has none.
  async get(pack: Pack): Promise<FileHandle> {
    this.touch(pack);
    if (pack.fh) return pack.fh;
    const fh = await open(pack.path, 'r');
    if (pack.fh) { await fh.close(); return pack.fh; }
    this.adopt(pack, fh);
    void this.evict();
    return fh;
  }

  async evict(): Promise<void> {
    while (this.count > MAX_OPEN_PACKS) {
      let victim: Pack | null = null;
      for (const p of this.packs.values()) {
        if (!p.fh || p.writable || p.pins > 0 || p.inflight.size > 0) continue;
        if (!victim || p.lastUse < victim.lastUse) victim = p;
      }
      if (!victim) return;
      await this.close(victim);
    }
  }

  async close(p: Pack): Promise<void> {
    const fh = p.fh;
    if (!fh) return;
    p.fh = null;
    this.count--;
    await fh.close().catch(() => {});
  }
}
