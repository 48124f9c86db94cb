import type { Filesystem } from '../node/filesystem.ts';
import { Kind } from '../log/entry.ts';
import type { Draft } from '../log/sign.ts';
import { parentOf } from '../log/path.ts';
import { logger } from '../node/logger.ts';
import type { DirtyFile, ContentRef } from './dirty.ts';

// The FUSE commit queue. Closed files (a WRITE each), new directories (MKDIR), attribute
// changes (SETATTR) and removals (DELETE) go to the log in batches: the files' contents are
// stored concurrently (they share their fsyncs), then all entries are appended with one fsync
// (Filesystem.commitMany), in queue order. Every FUSE call that changes something waits for
// its batch (durable(), landed()), which starts one at once; calls arriving meanwhile share
// the next. Only work nobody waits for (a release after a failed close) waits DELAY_MS for
// company. See docs/FUSE.md, "Durability".
export const DELAY_MS = Number(process.env.BASEFS_FUSE_COMMIT_DELAY_MS ?? 10);
const MAX_BATCH = 1024;

// A queued metadata change; `draft` may be updated until the op is taken into a batch.
export interface Op {
  draft: Draft;
  taken: boolean;
  done(err: unknown | null): void;
  result?: { err: unknown | null }; // set once the op was committed or failed
}

type Item = DirtyFile | Op;

export type FileDone = (df: DirtyFile, err: unknown | null) => Promise<void>;

interface Prepared {
  item: Item;
  gen: number;
  ref: ContentRef | null;
  draft: Draft;
}

function isOp(x: Item): x is Op {
  return (x as Op).draft !== undefined && (x as Op).taken !== undefined;
}

export class Committer {
  private fs: Filesystem;
  private fileDone: FileDone;
  private flushContent: () => Promise<void>;
  private queue = new Set<Item>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  batches = 0;
  committed = 0;

  constructor(fs: Filesystem, flushContent: () => Promise<void>, fileDone: FileDone) {
    this.fs = fs;
    this.flushContent = flushContent;
    this.fileDone = fileDone;
  }

  get busy(): boolean {
    return this.running !== null || this.queue.size > 0;
  }

  schedule(df: DirtyFile): void {
    if (df.discarded || !df.pending || df.queued) return;
    df.queued = true;
    this.queue.add(df);
    this.arm();
  }

  enqueue(op: Op): void {
    this.queue.add(op);
    this.arm();
  }

  cancel(df: DirtyFile): void {
    if (this.queue.delete(df)) df.queued = false;
  }

  private arm(): void {
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.kick();
    }, DELAY_MS);
  }

  private kick(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running ??= this.loop().finally(() => {
      this.running = null;
      if (this.queue.size) this.arm();
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    while (this.queue.size) {
      const batch: Item[] = [];
      for (const it of this.queue) {
        batch.push(it);
        if (batch.length >= MAX_BATCH) break;
      }
      for (const it of batch) {
        this.queue.delete(it);
        if (isOp(it)) it.taken = true;
        else {
          it.queued = false;
          it.inflight = true;
        }
      }
      await this.commitBatch(batch);
    }
  }

  // Waits until df's changes up to `gen` (default: all so far) are in the log and durable,
  // committing now (no batching delay: the caller is waiting). Throws the commit's error when
  // the attempt that covered `gen` failed, so close(2) and fsync(2) can report it.
  async durable(df: DirtyFile, gen = df.gen): Promise<void> {
    for (;;) {
      if (df.discarded || df.committedGen >= gen) return;
      if (df.failed && df.failed.gen >= gen) throw df.failed.err;
      if (df.inflight && this.running) {
        await this.running;
        continue;
      }
      if (!df.queued) {
        df.queued = true;
        this.queue.add(df);
      }
      await this.kick();
    }
  }

  // Waits until a queued metadata change is in the log; throws its commit error.
  async landed(op: Op): Promise<void> {
    while (!op.result) {
      if (op.taken && this.running) await this.running;
      else await this.kick();
    }
    if (op.result.err) throw op.result.err;
  }

  // Everything queued so far, committed.
  async drain(): Promise<void> {
    while (this.queue.size || this.running) await this.kick();
  }

  // Waits for the batch in flight (not for the queue).
  async settle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async commitBatch(batch: Item[]): Promise<void> {
    const takenGen = new Map<Item, number>();
    for (const it of batch) if (!isOp(it)) takenGen.set(it, it.gen);
    const errors = new Map<Item, unknown>();
    const prepared = new Map<Item, Prepared>();
    await Promise.all(batch.map(async (it) => {
      if (isOp(it)) {
        prepared.set(it, { item: it, gen: 0, ref: null, draft: it.draft });
        return;
      }
      const df = it;
      await df.lock.run(async () => {
        if (df.discarded || !df.pending) return;
        const gen = df.gen;
        const ref = await df.store();
        prepared.set(df, { item: df, gen, ref, draft: { kind: Kind.WRITE, path: df.path, root: ref.root, size: ref.size, mode: df.mode & 0o7777, mtime: df.mtime, owner: df.owner, group: df.group } });
      }).catch((e) => { errors.set(df, e); });
    }));
    // in queue order, without files unlinked meanwhile; a file needs its directory (in the view
    // or made earlier in this batch) so that one orphan does not sink the batch
    const live: Prepared[] = [];
    const made = new Set<string>();
    for (const it of batch) {
      const p = prepared.get(it);
      if (!p || (!isOp(it) && it.discarded)) continue;
      if (p.draft.kind === Kind.MKDIR) made.add(p.draft.path);
      else if (p.draft.kind === Kind.WRITE) {
        const dir = parentOf(p.draft.path);
        const parent = this.fs.state.lookup(dir);
        if (!made.has(dir) && parent?.type !== 'dir') {
          errors.set(it, Object.assign(new Error(`no directory ${dir} for ${p.draft.path}`), { code: 'ENOENT' }));
          continue;
        }
        if (this.fs.state.lookup(p.draft.path)?.type === 'dir') {
          errors.set(it, Object.assign(new Error(`${p.draft.path} is a directory`), { code: 'EISDIR' }));
          continue;
        }
      }
      live.push(p);
    }
    const ok = new Set<Prepared>();
    if (live.length) {
      try {
        await this.flushContent(); // the contents are durable before the entries naming them
        await this.fs.commitMany(live.map((p) => p.draft));
        for (const p of live) ok.add(p);
      } catch (e) {
        if (live.length === 1) errors.set(live[0].item, e);
        else {
          // one bad item must not sink the others
          for (const p of live) {
            try {
              await this.fs.commitMany([p.draft]);
              ok.add(p);
            } catch (e1) {
              errors.set(p.item, e1);
            }
          }
        }
      }
    }
    this.batches++;
    this.committed += ok.size;
    for (const p of ok) {
      if (isOp(p.item)) continue;
      p.item.base = p.ref;
      p.item.inLog = true;
      p.item.committedGen = p.gen;
    }
    for (const it of batch) {
      const err = errors.get(it) ?? null;
      if (err) logger.warn({ path: isOp(it) ? it.draft.path : it.path, err: (err as Error)?.message }, 'commit failed');
      try {
        if (isOp(it)) {
          it.result = { err };
          it.done(err);
        } else {
          it.inflight = false;
          if (err) it.failed = { gen: prepared.get(it)?.gen ?? takenGen.get(it)!, err };
          await this.fileDone(it, err);
        }
      } catch (e) {
        logger.warn({ err: (e as Error).message }, 'after-commit cleanup failed');
      }
    }
  }
}
