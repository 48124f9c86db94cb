import type { ClassicLevel } from 'classic-level';
import { kindName, Kind, type Entry } from '../log/entry.ts';
import { toHex } from '../crypto/hash.ts';
import { parentOf } from '../log/path.ts';
import type { Op } from '../storage/viewstore.ts';
import type { FsState, Inode } from '../view/state.ts';
import { UserError } from '../errors/errors.ts';

// The change journal (issue 18): one record per change of the view (a path created, changed
// or removed), numbered by a counter that is the watchers' and hooks' cursor. Records are
// written in the same synced batch as the entries and the stored view records they follow
// from (Filesystem.appendDurable), so after any crash the journal holds exactly the changes
// of the stored entries: none lost, none repeated. Only the view's changes are journaled, so
// an entry that is invalid (no authority, revoked) never appears. Keys, beside the log's:
//   j!<cursor, 16 hex>  -> JSON of the change (Change without `cursor`)
// Bounded: the oldest records are deleted in the same batch once more than `limit` are kept;
// a reader whose cursor is older is told to resync (JournalGoneError). docs/LOG.md "Journal".
export const JOURNAL = 'j!';
export const JOURNAL_LIMIT = 100_000;
type DB = ClassicLevel<string, Uint8Array>;

export interface Change {
  cursor: number;
  path: string;
  op: 'created' | 'changed' | 'removed';
  type: Inode['type']; // the new type, or the old one when removed
  kind: string; // kind of the entry that caused the change (WRITE, DELETE, RENAME, REVOKE, ...)
  entry: string; // that entry's id
  old: string; // the path's winning entry before ('' : none, or an implicit directory)
  new: string; // and after
  author: string; // hex public key of the causing entry
  conflict: boolean; // the new version won over concurrent ones
  time: number; // when this node applied it (ms since epoch)
}

export class JournalGoneError extends UserError {}

function keyOf(cursor: number): string {
  return JOURNAL + cursor.toString(16).padStart(16, '0');
}

function cursorOf(key: string): number {
  return parseInt(key.slice(JOURNAL.length), 16);
}

export class Journal {
  private db: DB;
  limit: number; // records kept (a setting, not a format: changing it only trims sooner or later)
  first = 1; // oldest cursor kept
  durable = 0; // newest cursor on disk (0: none yet)
  private next = 1; // next cursor to assign (ahead of durable while a batch is in flight)

  constructor(db: DB, limit = JOURNAL_LIMIT) {
    this.db = db;
    this.limit = limit;
  }

  async open(): Promise<void> {
    const [lo] = await this.db.keys({ gte: JOURNAL, lt: 'j"', limit: 1 }).all();
    const [hi] = await this.db.keys({ gte: JOURNAL, lt: 'j"', limit: 1, reverse: true }).all();
    this.durable = hi ? cursorOf(hi) : 0;
    this.first = lo ? cursorOf(lo) : this.durable + 1;
    this.next = this.durable + 1;
  }

  // The records of one append: for each path in `changed` whose inode differs from what it
  // was before the append (`olds`, from FsState.apply; a changed path missing from it, e.g. a
  // directory whose listing changed, was what it is now), a change numbered in order, plus
  // deletions of the oldest records beyond the limit. Synchronous, so that concurrent appends
  // number their changes in the order of their batches. Call commit() once the batch is
  // durable, rollback() if it failed.
  prepare(state: FsState, entries: Entry[], changed: string[], olds: Map<string, Inode | null>): { ops: Op[]; changes: Change[] } {
    if (changed.length === 0) return { ops: [], changes: [] };
    const ids = new Map<string, Entry>();
    const byPath = new Map<string, Entry>();
    let revoke: Entry | undefined;
    for (const e of entries) {
      ids.set(e.idHex, e);
      byPath.set(e.path, e);
      if (e.kind === Kind.RENAME) byPath.set(e.target, e);
      if (e.kind === Kind.REVOKE) revoke = e;
    }
    const now = Date.now();
    const changes: Change[] = [];
    const ops: Op[] = [];
    changed.forEach((p) => {
      const now_ = state.lookup(p);
      const was = olds.has(p) ? olds.get(p)! : now_;
      if (same(was, now_)) return;
      const cause = causeOf(p, was, now_, ids, byPath) ?? revoke ?? entries[entries.length - 1];
      const c: Change = {
        cursor: this.next++,
        path: p,
        op: !was ? 'created' : !now_ ? 'removed' : 'changed',
        type: (now_ ?? was)!.type,
        kind: cause ? kindName(cause.kind) : '',
        entry: cause ? cause.idHex : '',
        old: was?.entryId ?? '',
        new: now_?.entryId ?? '',
        author: cause ? toHex(cause.author) : '',
        conflict: !!now_ && state.contested(p),
        time: now,
      };
      changes.push(c);
      const { cursor, ...rest } = c;
      ops.push({ type: 'put', key: keyOf(cursor), value: Buffer.from(JSON.stringify(rest)) });
    });
    // Keep at most `limit` records: drop the oldest as many as this batch adds past it.
    while (this.next - this.first > this.limit) ops.push({ type: 'del', key: keyOf(this.first++) });
    return { ops, changes };
  }

  commit(changes: Change[]): void {
    if (changes.length) this.durable = changes[changes.length - 1].cursor;
  }

  // The batch failed: the cursors it took are given back (nothing of it is on disk).
  async rollback(): Promise<void> {
    await this.open();
  }

  // Stored changes with cursor > `after`, in order, at most `max` of them. Throws
  // JournalGoneError when records after `after` were already trimmed.
  async read(after: number, max: number, label: string): Promise<Change[]> {
    if (after < 0 || !Number.isSafeInteger(after)) throw new UserError(`bad cursor ${after}: give a number printed by basefs watch`);
    if (after + 1 < this.first) throw this.gone(after, label);
    if (after > this.durable) {
      throw new UserError(`cursor ${after} is ahead of ${label}'s journal (its newest change is ${this.durable}); it was printed by another filesystem or a data directory since replaced; resume with --since ${this.durable}`, 'ERANGE');
    }
    const out: Change[] = [];
    for await (const [k, v] of this.db.iterator({ gt: keyOf(after), lte: keyOf(this.durable), limit: max })) {
      let rec: Omit<Change, 'cursor'>;
      try {
        rec = JSON.parse(Buffer.from(v).toString());
      } catch {
        throw new UserError(`journal record ${cursorOf(k)} of ${label} is damaged; resume after it with --since ${cursorOf(k)}`, 'ECORRUPT');
      }
      out.push({ cursor: cursorOf(k), ...rec });
    }
    return out;
  }

  gone(after: number, label: string): JournalGoneError {
    return new JournalGoneError(`the journal of ${label} no longer holds the changes after cursor ${after} (it keeps the last ${this.limit}; the oldest kept is ${this.first}); resync from the current state (basefs ls -r / cat) and resume with --since ${this.durable}`, 'ESTALE');
  }
}

function same(a: Inode | null, b: Inode | null): boolean {
  if (!a || !b) return a === b;
  return a.type === b.type && a.entryId === b.entryId && a.contentId === b.contentId && a.attrId === b.attrId && a.mode === b.mode && a.mtime === b.mtime && a.size === b.size && a.target === b.target;
}

// The entry of this append that made the change: the new attributes' or version's entry, else
// the one acting at the path or at an ancestor (a directory removed or moved).
function causeOf(p: string, was: Inode | null, now: Inode | null, ids: Map<string, Entry>, byPath: Map<string, Entry>): Entry | undefined {
  if (now) {
    const attrOnly = was && was.entryId === now.entryId && was.contentId === now.contentId;
    const e = (attrOnly ? ids.get(now.attrId) : undefined) ?? ids.get(now.entryId) ?? ids.get(now.attrId);
    if (e) return e;
  }
  for (let q = p; ; q = parentOf(q)) {
    const e = byPath.get(q);
    if (e) return e;
    if (q === '/') return undefined;
  }
}
