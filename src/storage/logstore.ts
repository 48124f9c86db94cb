import { ClassicLevel } from 'classic-level';
import { sha256, toHex } from '../crypto/hash.ts';
import { decodeEntry } from '../log/codec.ts';
import type { Entry } from '../log/entry.ts';
import { UserError } from '../errors/errors.ts';
import type { Op } from './viewstore.ts';

// On-disk log (classic-level). Keys:
//   s!<seq, 12 hex>  -> entry bytes, in application (topological) order: reopen = one scan
//   i!<id hex>       -> seq, lookup by id
//   p!<path>\0<seq>  -> id, index by path
//   q!<id hex>       -> bytes of an entry parked for missing deps (survives restarts)
//   m!heads          -> concatenated 32-byte head ids;  m!format, m!name, m!fsId
//   v!...            -> the persistent view (storage/viewstore.ts), written in the same batch
// Every append is one atomic batch written with sync, so an acknowledged entry survives a
// crash. Concurrent appends are grouped into one batch (group commit) to amortize the fsync.
const FORMAT = '1';
type DB = ClassicLevel<string, Uint8Array>;

function seqKey(n: number): string {
  return 's!' + n.toString(16).padStart(12, '0');
}

export class CorruptLogError extends UserError {}

interface Pending {
  entries: Entry[];
  heads: Uint8Array[];
  unpark: string[];
  extra: Op[];
  resolve: () => void;
  reject: (e: Error) => void;
}

export class LogStore {
  db: DB;
  dir: string;
  nextSeq = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  // Set when a batch did not reach the disk: appends queued behind it may build on its
  // entries, so they fail too, and so does every append until the owner reloads (recover()).
  failed: Error | null = null;
  stats = { batches: 0, appends: 0 }; // synced batches written, append calls they carried

  private constructor(db: DB, dir: string) {
    this.db = db;
    this.dir = dir;
  }

  static async open(dir: string): Promise<LogStore> {
    const db: DB = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      // LevelDB's messages name the LOCK file, so test for read-only/permission errors first.
      if (cause && /Read-only file system|EROFS/i.test(String(cause.message))) {
        throw new UserError(`the log at ${dir} is on a read-only filesystem; basefs must write to its data directory even to read it (remount it read-write, or copy the data directory and use --data-dir)`, 'EROFS');
      }
      if (cause && /Permission denied|EACCES/i.test(String(cause.message))) {
        throw new UserError(`permission denied opening the log at ${dir}; run basefs as the user that owns it`, 'EACCES');
      }
      if (cause && /lock/i.test(String(cause.message))) {
        throw new UserError(`the log at ${dir} is in use by a running node; stop it (basefs unmount/Ctrl-C) or talk to it through its control socket`, 'ELOCKED');
      }
      throw new UserError(`cannot open the log at ${dir}: ${(cause ?? (e as Error)).message}`);
    }
    const fmt = await db.get('m!format');
    if (fmt === undefined) await db.put('m!format', Buffer.from(FORMAT));
    else if (Buffer.from(fmt).toString() !== FORMAT) {
      await db.close();
      throw new UserError(`the log at ${dir} has format ${Buffer.from(fmt).toString()}, this basefs reads format ${FORMAT}`);
    }
    return new LogStore(db, dir);
  }

  async getMeta(k: string): Promise<string | undefined> {
    const v = await this.db.get('m!' + k);
    return v === undefined ? undefined : Buffer.from(v).toString();
  }

  async setMeta(k: string, v: string): Promise<void> {
    await this.db.put('m!' + k, Buffer.from(v), { sync: true });
  }

  // Every stored entry in order, each checked against its id (a flipped bit is caught here).
  async *readAll(): AsyncGenerator<Entry> {
    for await (const batch of this.readBatches()) yield* batch;
  }

  // Batches of stored entries in order: reopen uses this to avoid a promise per entry.
  // Each record is checked against the id index written in the same atomic batch: an entry's
  // id is the SHA-256 of its bytes, so a damaged record hashes to an id the index does not
  // map to its seq. Without this check a damaged entry would reopen under a new id and every
  // entry after it would silently wait for a dep that never comes.
  async *readBatches(): AsyncGenerator<Entry[]> {
    // nextv: one native round trip per 1000 records instead of one per record; the next batch
    // is read while this one's ids are looked up, so the check costs little wall time.
    const it = this.db.iterator({ gt: 's!', lt: 's"' });
    try {
      let batch = await it.nextv(1000);
      while (batch.length > 0) {
        const out: Entry[] = [];
        for (const [k, v] of batch) {
          try {
            out.push(decodeEntry(v, true));
          } catch (err) {
            throw await this.damaged(k.slice(2), `it no longer decodes (${(err as Error).message})`);
          }
        }
        const [seqs, next] = await Promise.all([this.db.getMany(out.map((e) => 'i!' + e.idHex)), it.nextv(1000)]);
        for (let i = 0; i < out.length; i++) {
          const seqHex = batch[i][0].slice(2);
          const at = seqs[i] === undefined ? undefined : Buffer.from(seqs[i]!).toString();
          if (at !== seqHex && !(at !== undefined && (await this.sameRecord(at, batch[i][1])))) {
            throw await this.damaged(seqHex, 'its bytes no longer hash to the id it was stored under');
          }
        }
        this.nextSeq = parseInt(batch[batch.length - 1][0].slice(2), 16) + 1;
        yield out;
        batch = next;
      }
    } finally {
      await it.close();
    }
  }

  // A second copy of an entry stored at another seq is a duplicate, not damage.
  private async sameRecord(seqHex: string, v: Uint8Array): Promise<boolean> {
    const other = await this.db.get('s!' + seqHex);
    return other !== undefined && Buffer.compare(other, v) === 0;
  }

  // The error for a damaged record at seqHex, naming the entry (from the id and path indexes,
  // which the damage did not touch) and what to do. Only on the error path: scans the indexes.
  private async damaged(seqHex: string, why: string): Promise<CorruptLogError> {
    let id: string | undefined;
    for await (const [k, v] of this.db.iterator({ gt: 'i!', lt: 'i"' })) {
      if (Buffer.from(v).toString() === seqHex) {
        id = k.slice(2);
        break;
      }
    }
    let path: string | undefined;
    for await (const k of this.db.keys({ gt: 'p!', lt: 'p"' })) {
      if (k.endsWith('\0' + seqHex)) {
        path = k.slice(2, -13);
        break;
      }
    }
    const name = await this.getMeta('name').catch(() => undefined);
    const fsDir = this.dir.replace(/\/log\/?$/, '');
    return new CorruptLogError(
      `the log at ${this.dir} is damaged: record ${parseInt(seqHex, 16)}` +
        (id ? ` (entry ${id}${path ? `, path ${path}` : ''})` : '') +
        ` is corrupt: ${why}. basefs will not open a log with a damaged entry, since every later entry depends on it. ` +
        `Restore ${fsDir} from a backup, or move it aside and fetch the filesystem again from a peer: basefs get ${name ?? 'NAME'} ADDR`,
      'ECORRUPT',
    );
  }

  async *readParked(): AsyncGenerator<Uint8Array> {
    for await (const [, v] of this.db.iterator({ gt: 'q!', lt: 'q"' })) yield v;
  }

  async getBytes(idHex: string): Promise<Uint8Array | undefined> {
    const seq = await this.db.get('i!' + idHex);
    if (seq === undefined) return undefined;
    const v = await this.db.get('s!' + Buffer.from(seq).toString());
    if (v && toHex(sha256(v)) !== idHex) throw new CorruptLogError(`stored entry ${idHex} does not match its id`);
    return v;
  }

  // Durably stores applied entries (in order) and the new heads; resolves once synced.
  // `extra`: records written in the same atomic batch (the view that reflects these entries).
  append(entries: Entry[], heads: Uint8Array[], unpark: string[] = [], extra: Op[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.queue.push({ entries, heads, unpark, extra, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  async park(e: Entry): Promise<void> {
    await this.db.put('q!' + e.idHex, e.bytes);
  }

  // Forgets parked entries (refused when their deps arrived, or evicted for room).
  async unpark(ids: string[]): Promise<void> {
    if (ids.length) await this.db.batch(ids.map((id) => ({ type: 'del' as const, key: 'q!' + id })));
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, this.queue.length);
        const ops: { type: 'put' | 'del'; key: string; value?: Uint8Array }[] = [];
        for (const p of group) {
          for (const e of p.entries) {
            const seqHex = seqKey(this.nextSeq++).slice(2);
            ops.push({ type: 'put', key: 's!' + seqHex, value: e.bytes });
            ops.push({ type: 'put', key: 'i!' + e.idHex, value: Buffer.from(seqHex) });
            ops.push({ type: 'put', key: 'p!' + e.path + '\0' + seqHex, value: e.id });
            if (e.target && e.kind === 4) ops.push({ type: 'put', key: 'p!' + e.target + '\0' + seqHex, value: e.id });
          }
          for (const u of p.unpark) ops.push({ type: 'del', key: 'q!' + u });
          for (const o of p.extra) ops.push(o);
        }
        const last = group[group.length - 1];
        ops.push({ type: 'put', key: 'm!heads', value: Buffer.concat(last.heads) });
        try {
          await this.db.batch(ops as never, { sync: true });
          this.stats.batches++;
          this.stats.appends += group.length;
          for (const p of group) p.resolve();
        } catch (err) {
          const e = err as Error & { cause?: Error };
          const msg = e.cause?.message ?? e.message;
          const ue = /No space|ENOSPC/i.test(msg)
            ? new UserError(`disk full: cannot write the log at ${this.dir} (${msg}); nothing was written`, 'ENOSPC')
            : /read-only|EROFS|Permission|EACCES/i.test(msg)
              ? new UserError(`cannot write the log at ${this.dir}: ${msg}`, 'EROFS')
              : e;
          this.failed = ue;
          for (const p of [...group, ...this.queue.splice(0)]) p.reject(ue);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  async idsForPath(path: string): Promise<string[]> {
    const out: string[] = [];
    for await (const v of this.db.values({ gt: 'p!' + path + '\0', lt: 'p!' + path + '\x01' })) out.push(toHex(v));
    return out;
  }

  // The owner reloaded its memory from what the disk holds: appends may go on.
  recover(): void {
    this.failed = null;
  }

  // One synced batch of records outside the entry log (rebuilding the view).
  async write(ops: Op[]): Promise<void> {
    await this.db.batch(ops as never, { sync: true });
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.db.close();
  }
}
