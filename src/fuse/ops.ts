import { statfs as statfsCb, mkdirSync, rmSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import type { Filesystem } from '../node/filesystem.ts';
import { FsState, type Inode } from '../view/state.ts';
import { Kind, type Entry } from '../log/entry.ts';
import { parentOf, baseName, isUnder } from '../log/path.ts';
import { bytesEqual } from '../crypto/hash.ts';
import { logger } from '../node/logger.ts';
import { DirtyFile, type ContentIO, type ContentRef } from './dirty.ts';
import { Committer, type Op } from './committer.ts';
import type { Draft } from '../log/sign.ts';
import { Reader } from './reader.ts';
import { refuseLongPaths } from './names.ts';
import { saveLost as saveLostBytes } from './lost.ts';
import { Times } from './times.ts';
import { IdMap } from './owners.ts';
import { chownNames, type Owned } from './chown.ts';
import { ConflictTree, type VNode } from './conflicts.ts';
import type { FuseOps, FuseStat, FuseStatfs } from './native.ts';
import {
  fail, toErrno, ENOSPC, ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EACCES, EPERM, EINVAL, EROFS, EBADF, EIO,
} from './errno.ts';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const O_ACCMODE = 3;
const O_TRUNC = fsConstants.O_TRUNC;
const W_OK = 2;
const X_OK = 1;

// Virtual folders at the root of the mount (see docs/FUSE.md). They are not listed by
// readdir (like ZFS's hidden .zfs) and a user file can never take these names at the root.
export const SNAP_DIR = '.snap';
export const CONFLICTS_DIR = '.conflicts';
const RESERVED = new Set(['/' + SNAP_DIR, '/' + CONFLICTS_DIR]);
// libfuse renames a file that is unlinked while open to .fuse_hidden%08x%08x and unlinks that
// name at the last close; we keep such files out of the log.
const HIDDEN_RE = /^\.fuse_hidden[0-9a-f]{16}$/;
// fuse-native passes utimensat's UTIME_NOW and UTIME_OMIT (tv_sec 0, tv_nsec 2^30-1 or 2^30-2)
// as this many milliseconds (only with the patched binding, see native.ts).
const NOW_OR_OMIT = 1073;
const SNAP_CACHE = 8;
const NOT_OWNED: Owned = {};

type Where =
  | { k: 'live'; path: string }
  | { k: 'snaps' }
  | { k: 'snap'; label: string; path: string }
  | { k: 'conf'; path: string };

function where(p: string): Where {
  if (p.length > 1 && p.charCodeAt(1) === 46 /* . */) {
    for (const [dir, kind] of [[SNAP_DIR, 's'], [CONFLICTS_DIR, 'c']] as const) {
      const pre = '/' + dir;
      if (p === pre) return kind === 's' ? { k: 'snaps' } : { k: 'conf', path: '/' };
      if (p.startsWith(pre + '/')) {
        const rest = p.slice(pre.length + 1);
        if (kind === 'c') return { k: 'conf', path: '/' + rest };
        const i = rest.indexOf('/');
        return i < 0 ? { k: 'snap', label: rest, path: '/' } : { k: 'snap', label: rest.slice(0, i), path: rest.slice(i) };
      }
    }
  }
  return { k: 'live', path: p };
}

// The path the log's length limits apply to: a live path itself, the path inside a snapshot;
// null (names only) for the conflict folder, whose paths carry a loser id after the path.
function limitsOf(p: string): string | null {
  const w = where(p);
  return w.k === 'live' || w.k === 'snap' ? w.path : null;
}

// The errno close(2) or fsync(2) reports for a commit that failed: the ones POSIX lists for
// them (EIO, ENOSPC), and EACCES for a grant revoked since open; anything else is EIO.
function closeErrno(e: unknown): number {
  const n = toErrno(e, 'commit');
  return n === ENOSPC || n === EACCES ? n : EIO;
}

interface Handle {
  fd: number;
  write: boolean;
  wrote?: boolean; // a write(2) came through this handle
  df: DirtyFile | null; // writers, and readers of a file with local changes
  reader: Reader | null; // everyone else: the content pinned at open
}

// What a live path is, with queued (not yet committed) changes applied.
type Node = Pick<Inode, 'type' | 'mode' | 'mtime' | 'size' | 'root' | 'target'> & Owned & { entryId?: string; attrId?: string; ctime?: number };

interface PendingDir {
  mode: number;
  mtime: number;
  owner?: string;
  group?: string;
  op: Op;
}

interface PendingAttrs {
  mode?: number;
  mtime?: number;
  owner: string;
  group: string;
  at: number; // when it was asked for: the ctime until it lands
  op: Op;
}

interface Hidden {
  type: 'file' | 'symlink';
  mode: number;
  mtime: number;
  size: number;
  root: Uint8Array | null;
  target: string;
  df: DirtyFile | null;
}

export interface FuseFsOptions {
  uid?: number;
  gid?: number;
  allowOther?: boolean; // mounted with default_permissions: the kernel checks chown's caller
  ids?: IdMap;
  utimensFixed?: boolean; // fuse-native passes the real mtime (see native.ts)
}

// The FUSE operations over one Filesystem. Every handler answers through its callback exactly
// once, with 0 / a value or a negative errno; nothing throws out of a handler.
export class FuseFs {
  readonly fs: Filesystem;
  private readonly io: ContentIO;
  private readonly uid: number;
  private readonly gid: number;
  private readonly ids: IdMap;
  private readonly allowOther: boolean;
  private readonly utimensFixed: boolean;
  private readonly tmpDir: string;
  private readonly lostDir: string;
  private handles = new Map<number, Handle>();
  private nextFd = 1;
  private dirty = new Map<string, DirtyFile>();
  private hidden = new Map<string, Hidden>();
  private pendingDirs = new Map<string, PendingDir>(); // MKDIR queued in the committer
  private pendingAttrs = new Map<string, PendingAttrs>(); // SETATTR queued in the committer
  private pendingDeletes = new Map<string, Op>(); // DELETE of a file or symlink queued
  private wcache = new Map<string, boolean>();
  private grantPaths: string[] | null = null;
  private snapList: Map<string, string> | null = null;
  private snapStates = new Map<string, FsState>();
  private conflicts: ConflictTree;
  private times: Times;
  readonly committer: Committer;
  private closed = false;
  private onEntries: (es: Entry[]) => void;

  constructor(fs: Filesystem, io: ContentIO, o: FuseFsOptions = {}) {
    this.fs = fs;
    this.io = io;
    this.uid = o.uid ?? process.getuid?.() ?? 0;
    this.gid = o.gid ?? process.getgid?.() ?? 0;
    this.ids = o.ids ?? new IdMap({ uid: this.uid, gid: this.gid });
    this.allowOther = !!o.allowOther;
    this.utimensFixed = !!o.utimensFixed;
    this.tmpDir = join(fs.dir, 'fuse-tmp');
    this.lostDir = join(fs.dir, 'fuse-lost');
    rmSync(this.tmpDir, { recursive: true, force: true }); // buffers of a crashed mount
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    this.conflicts = new ConflictTree(fs);
    this.times = new Times((id) => fs.dag.get(id)?.entry.time);
    this.committer = new Committer(fs, () => io.flush(), (df, err) => this.afterCommit(df, err));
    this.onEntries = (es) => this.entriesApplied(es);
    fs.on('entries', this.onEntries);
  }

  private entriesApplied(es: Entry[]): void {
    let grants = false;
    let snaps = false;
    for (const e of es) {
      if (e.kind === Kind.GRANT || e.kind === Kind.REVOKE || e.kind === Kind.BOOTSTRAP) grants = true;
      else if (e.kind === Kind.SNAPSHOT) snaps = true;
    }
    if (grants) {
      this.wcache.clear();
      this.grantPaths = null;
    }
    if (snaps) this.snapList = null;
    this.conflicts.invalidate();
    // this mount's own new files changed their directory at create; anyone's WRITE from
    // elsewhere counts as a change of its directory (whether it made the file is not known here)
    const me = this.fs.kp?.publicKey;
    this.times.entries(es, (e) => !me || !bytesEqual(e.author, me));
  }

  // ------------------------------------------------------------------ authority

  private writable(path: string): boolean {
    const kp = this.fs.kp;
    if (!kp) return false;
    let ok = this.wcache.get(path);
    if (ok === undefined) {
      ok = this.fs.state.canWrite(kp.publicKey, path).ok;
      if (this.wcache.size > 100_000) this.wcache.clear();
      this.wcache.set(path, ok);
    }
    return ok;
  }

  // A directory shows write bits when the key may write in it or anywhere below it (so a
  // grant at /a/b is reachable through /a for tools that check modes).
  private dirWritable(path: string): boolean {
    if (this.writable(path)) return true;
    const kp = this.fs.kp;
    if (!kp) return false;
    if (!this.grantPaths) {
      try {
        this.grantPaths = this.fs.state.grants().filter((g) => bytesEqual(g.key, kp.publicKey) && !g.revokedBy).map((g) => g.path);
      } catch {
        this.grantPaths = [];
      }
    }
    for (const g of this.grantPaths) if (isUnder(g, path)) return true;
    return false;
  }

  private requireWritable(path: string): void {
    if (!this.writable(path)) {
      fail(EACCES, this.fs.kp ? `no authority at ${path}` : 'no key: mounted read-only');
    }
  }

  // ------------------------------------------------------------------ attributes

  private stat(type: 'dir' | 'file' | 'symlink', perm: number, size: number, mtime: number, atime = mtime, ctime = mtime, own: Owned = NOT_OWNED): FuseStat {
    const bits = type === 'dir' ? S_IFDIR : type === 'symlink' ? S_IFLNK : S_IFREG;
    return {
      mode: bits | perm,
      uid: this.ids.uidOf(own.owner),
      gid: this.ids.gidOf(own.group),
      size,
      nlink: 1,
      mtime,
      atime,
      ctime,
      blksize: 128 * 1024,
      blocks: Math.ceil(size / 512),
    };
  }

  // `live`: the path in the mount, for the node-local times (atime, directory changes).
  private inodeStat(n: Node | Inode | VNode, canWrite: boolean, live?: string): FuseStat {
    const ctime = (n as Node).ctime ?? this.times.ctime(n as Node);
    if (n.type === 'dir') {
      let perm = n.mode & 0o7777;
      if (!canWrite) perm &= ~0o222;
      if (live === undefined) return this.stat('dir', perm, 4096, n.mtime, n.mtime, ctime, n as Owned);
      const mtime = this.times.dirMtime(live, n.mtime);
      return this.stat('dir', perm, 4096, mtime, this.times.atime(live, mtime), this.times.dirCtime(live, ctime), n as Owned);
    }
    const atime = live === undefined ? n.mtime : this.times.atime(live, n.mtime);
    if (n.type === 'symlink') return this.stat('symlink', 0o777, Buffer.byteLength(n.target ?? ''), n.mtime, atime, ctime, n as Owned);
    let perm = n.mode & 0o7777;
    if (!canWrite) perm &= ~0o222;
    return this.stat('file', perm, n.size, n.mtime, atime, ctime, n as Owned);
  }

  // A live path as the mount shows it: the view plus queued MKDIR/SETATTR (not files: see dirty).
  private look(path: string): Node | null {
    const pd = this.pendingDirs.get(path);
    if (!pd && this.pendingDeletes.has(path)) return null;
    const n: Node | null = pd ? { type: 'dir', mode: pd.mode, mtime: pd.mtime, size: 0, root: null, target: '', ctime: pd.mtime, owner: pd.owner, group: pd.group } : this.fs.state.lookup(path);
    if (!n) return null;
    const pa = this.pendingAttrs.get(path);
    if (!pa) return n;
    return { type: n.type, mode: pa.mode ?? n.mode, mtime: pa.mtime ?? n.mtime, size: n.size, root: n.root, target: n.target, ctime: pa.at, owner: pa.owner, group: pa.group };
  }

  private queueOp(draft: Draft, done: (err: unknown | null) => void): Op {
    const op: Op = { draft, taken: false, done };
    this.committer.enqueue(op);
    return op;
  }

  // chmod/utimens of a path without local file changes: a queued SETATTR, merged with one
  // still waiting for the same path.
  private queueAttrs(path: string, n: Node, a: { mode?: number; mtime?: number } & Owned): Op {
    const cur = this.pendingAttrs.get(path);
    if (cur && !cur.op.taken) {
      if (a.mode !== undefined) cur.mode = a.mode;
      if (a.mtime !== undefined) cur.mtime = a.mtime;
      if (a.owner !== undefined) cur.owner = a.owner;
      if (a.group !== undefined) cur.group = a.group;
      cur.at = Date.now();
      cur.op.draft = { ...cur.op.draft, mode: cur.mode ?? cur.op.draft.mode, mtime: cur.mtime ?? cur.op.draft.mtime, owner: cur.owner, group: cur.group };
      return cur.op;
    }
    const pa: PendingAttrs = { mode: a.mode ?? n.mode & 0o7777, mtime: a.mtime ?? n.mtime, owner: a.owner ?? n.owner ?? '', group: a.group ?? n.group ?? '', at: Date.now(), op: null as unknown as Op };
    pa.op = this.queueOp({ kind: Kind.SETATTR, path, mode: pa.mode!, mtime: pa.mtime!, owner: pa.owner, group: pa.group }, () => {
      if (this.pendingAttrs.get(path) === pa) this.pendingAttrs.delete(path);
    });
    this.pendingAttrs.set(path, pa);
    return pa.op;
  }

  // Every change is durable when its call returns (see docs/FUSE.md, "Durability"): the
  // caller waits for the batch that commits it; concurrent callers share a batch.
  private async settle(df: DirtyFile): Promise<void> {
    this.sched(df);
    await this.committer.durable(df).catch((e) => fail(closeErrno(e)));
  }

  private async drainIfBusy(): Promise<void> {
    if (this.committer.busy) await this.committer.drain();
  }

  private snapshotState(label: string): FsState | null {
    if (!this.snapList) this.snapList = new Map(this.fs.state.snapshots().map((s) => [s.label, s.entryId]));
    const id = this.snapList.get(label);
    if (!id) return null;
    let st = this.snapStates.get(id);
    if (st) {
      this.snapStates.delete(id);
      this.snapStates.set(id, st);
      return st;
    }
    st = FsState.atHeads(this.fs.dag, [id]);
    this.snapStates.set(id, st);
    if (this.snapStates.size > SNAP_CACHE) this.snapStates.delete(this.snapStates.keys().next().value!);
    return st;
  }

  private virtualDir(): FuseStat {
    const root = this.fs.state.lookup('/');
    return this.stat('dir', 0o555, 4096, root?.mtime ?? 0);
  }

  // Synchronous: getattr is the hottest call.
  private statOf(path: string): FuseStat | number {
    const w = where(path);
    if (w.k === 'live') {
      const h = this.hidden.get(path);
      if (h) return h.type === 'symlink' ? this.stat('symlink', 0o777, h.size, h.mtime) : this.stat('file', h.mode & 0o7777, h.df ? h.df.size : h.size, h.df ? h.df.mtime : h.mtime);
      const df = this.dirty.get(path);
      if (df) return this.stat('file', this.writable(path) ? df.mode & 0o7777 : df.mode & 0o7555, df.size, df.mtime, this.times.atime(path, df.mtime), df.ctime, df);
      const n = this.look(path);
      if (!n) return ENOENT;
      return this.inodeStat(n, n.type === 'dir' ? this.dirWritable(path) : this.writable(path), path);
    }
    if (w.k === 'snaps') return this.virtualDir();
    if (w.k === 'snap') {
      const st = this.snapshotState(w.label);
      if (!st) return ENOENT;
      const n = st.lookup(w.path);
      if (!n) return ENOENT;
      return this.inodeStat(n, false);
    }
    const v = this.conflicts.resolve(w.path);
    if (!v) return ENOENT;
    if (v.type === 'dir' && w.path === '/') return this.virtualDir();
    return this.inodeStat(v, false);
  }

  // The node behind a path for reading: live, snapshot or conflict loser.
  private readNode(path: string): { type: string; root: Uint8Array | null; size: number; target: string } | null {
    const w = where(path);
    if (w.k === 'live') {
      const n = this.look(path);
      return n ? { type: n.type, root: n.root ?? null, size: n.size, target: n.target ?? '' } : null;
    }
    if (w.k === 'snap') {
      const n = this.snapshotState(w.label)?.lookup(w.path);
      return n ? { type: n.type, root: n.root ?? null, size: n.size, target: n.target ?? '' } : null;
    }
    if (w.k === 'conf') {
      const v = this.conflicts.resolve(w.path);
      return v ? { type: v.type, root: v.root ?? null, size: v.size, target: v.target ?? '' } : null;
    }
    return { type: 'dir', root: null, size: 0, target: '' };
  }

  private liveNames(path: string): string[] | number {
    const n = this.look(path);
    if (!n) return this.dirty.has(path) || this.hidden.has(path) ? ENOTDIR : ENOENT;
    if (n.type !== 'dir') return ENOTDIR;
    let names = this.pendingDirs.has(path) ? [] : this.fs.state.readdir(path);
    if (this.pendingDeletes.size) {
      const pre = path === '/' ? '/' : path + '/';
      names = names.filter((x) => !this.pendingDeletes.has(pre + x));
    }
    let extra: string[] | null = null;
    for (const df of this.dirty.values()) {
      if (df.inLog || df.discarded || parentOf(df.path) !== path) continue;
      (extra ??= []).push(baseName(df.path));
    }
    for (const d of this.pendingDirs.keys()) if (parentOf(d) === path && d !== '/') (extra ??= []).push(baseName(d));
    if (!extra) return names;
    const have = new Set(names);
    return [...names, ...extra.filter((x) => !have.has(x))];
  }

  // ------------------------------------------------------------------ plumbing

  private go(op: string, path: string, cb: (err: number) => void, fn: () => Promise<unknown> | unknown): void {
    if (this.closed) return cb(EIO);
    let r: unknown;
    try {
      r = fn();
    } catch (e) {
      return cb(toErrno(e, op, path));
    }
    if (r instanceof Promise) r.then(() => cb(0), (e) => cb(toErrno(e, op, path)));
    else cb(0);
  }

  private goV<T>(op: string, path: string, cb: (err: number, v?: T) => void, fn: () => Promise<T> | T): void {
    if (this.closed) return cb(EIO);
    let r: Promise<T> | T;
    try {
      r = fn();
    } catch (e) {
      return cb(toErrno(e, op, path));
    }
    if (r instanceof Promise) r.then((v) => cb(0, v), (e) => cb(toErrno(e, op, path)));
    else cb(0, r);
  }

  // read/write answer with a byte count or a negative errno.
  private goN(op: string, path: string, cb: (n: number) => void, fn: () => Promise<number>): void {
    if (this.closed) return cb(EIO);
    let r: Promise<number>;
    try {
      r = fn();
    } catch (e) {
      return cb(toErrno(e, op, path));
    }
    r.then((n) => cb(n), (e) => cb(toErrno(e, op, path)));
  }

  private newFd(h: Omit<Handle, 'fd'>): number {
    let fd = this.nextFd;
    while (this.handles.has(fd)) fd = fd >= 0x7ffffff0 ? 1 : fd + 1;
    this.nextFd = fd >= 0x7ffffff0 ? 1 : fd + 1;
    this.handles.set(fd, { ...h, fd });
    return fd;
  }

  private handle(fd: number): Handle {
    const h = this.handles.get(fd);
    if (!h) fail(EBADF);
    return h;
  }

  private newDirty(path: string, n: Inode | null): DirtyFile {
    const base: ContentRef | null = n && n.type === 'file' && n.root ? { root: n.root, size: n.size } : null;
    const df = new DirtyFile(path, { mode: n ? n.mode & 0o7777 : 0o644, mtime: n?.mtime ?? Date.now(), ctime: n ? this.times.ctime(n) : undefined, base, inLog: !!n, tmpDir: this.tmpDir, io: this.io });
    df.owner = n?.owner ?? '';
    df.group = n?.group ?? '';
    this.dirty.set(path, df);
    return df;
  }

  // After the committer tried df: forget it once it is committed and closed; keep the bytes
  // of a closed file whose commit failed (nobody can be told any more).
  private async afterCommit(df: DirtyFile, err: unknown | null): Promise<void> {
    if (err && df.refs === 0 && !df.discarded) {
      await this.saveLost(df, err);
      df.committedGen = df.gen;
    }
    if (df.refs > 0 || df.queued || df.inflight) return;
    if (df.pending && !df.discarded) {
      this.committer.schedule(df); // changed while being committed (utimens after close)
      return;
    }
    await this.forget(df);
  }

  private async forget(df: DirtyFile): Promise<void> {
    if (this.dirty.get(df.path) === df) this.dirty.delete(df.path);
    this.committer.cancel(df);
    await df.lock.run(() => df.dispose());
  }

  private sched(df: DirtyFile): void {
    if (df.discarded) return;
    this.committer.schedule(df);
  }

  // A closed file whose commit failed cannot report it to the program: keep the bytes.
  private async saveLost(df: DirtyFile, err: unknown): Promise<void> {
    const error = String((err as Error)?.message ?? err);
    try {
      let savedAs: string | null = null;
      await df.lock.run(async () => {
        const meta = { path: df.path, mode: df.mode, mtime: df.mtime, size: df.size, error };
        if (df.buf) savedAs = await saveLostBytes(this.lostDir, await df.buf.content(), meta);
        else {
          // unchanged since open, or streamed into the store (store() ended the stream): the
          // bytes are stored content that no entry names; copy them out
          const b = df.base;
          const io = this.io;
          const read = b ? (off: number, len: number) => io.read(b.root, off, len, df.path) : async () => new Uint8Array(0);
          savedAs = await saveLostBytes(this.lostDir, { size: b?.size ?? 0, read }, meta);
        }
      });
      logger.error({ path: df.path, err: error, savedAs }, 'could not commit a closed file; its content was kept in fuse-lost');
    } catch (e) {
      logger.error({ path: df.path, err: error, saveErr: (e as Error).message }, 'could not commit a closed file and could not save it');
    }
  }

  // Commits every file with pending changes, open or not (unmount, SIGTERM).
  async flushAll(): Promise<void> {
    for (const df of [...this.dirty.values()]) if (df.pending && !df.discarded) this.committer.schedule(df);
    await this.committer.drain();
  }

  // After unmount: refuse everything, drop buffers.
  async close(): Promise<void> {
    await this.flushAll();
    if (process.env.BASEFS_FUSE_STATS) process.stderr.write(this.statsTable() + '\n');
    this.closed = true;
    this.fs.off('entries', this.onEntries);
    for (const df of new Set([...this.dirty.values(), ...[...this.handles.values()].map((h) => h.df).filter((d): d is DirtyFile => !!d)])) {
      if (df.pending && !df.discarded && df.buf) await this.saveLost(df, new Error('still not committed at unmount'));
      await df.lock.run(() => df.dispose()).catch(() => {});
    }
    this.dirty.clear();
    this.handles.clear();
    rmSync(this.tmpDir, { recursive: true, force: true });
  }

  get openFiles(): number {
    return this.handles.size;
  }

  // ------------------------------------------------------------------ operations

  ops(): FuseOps {
    const ops = refuseLongPaths(this.rawOps(), limitsOf);
    return process.env.BASEFS_FUSE_STATS ? this.timed(ops) : ops;
  }

  // BASEFS_FUSE_STATS=1: count and time every operation (from the call to its answer), and
  // print the table to stderr at unmount. For diagnosing slow workloads.
  readonly opStats = new Map<string, { n: number; ms: number; max: number }>();
  private timed(ops: FuseOps): FuseOps {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(ops)) {
      out[name] = (...args: unknown[]) => {
        const t = performance.now();
        const cb = args[args.length - 1] as (...a: unknown[]) => void;
        args[args.length - 1] = (...r: unknown[]) => {
          const d = performance.now() - t;
          let s = this.opStats.get(name);
          if (!s) this.opStats.set(name, (s = { n: 0, ms: 0, max: 0 }));
          s.n++;
          s.ms += d;
          if (d > s.max) s.max = d;
          cb(...r);
        };
        (fn as (...a: unknown[]) => void)(...args);
      };
    }
    return out as unknown as FuseOps;
  }

  statsTable(): string {
    const rows = [...this.opStats].sort((a, b) => b[1].ms - a[1].ms);
    const lines = rows.map(([k, s]) => `${k.padEnd(10)} ${String(s.n).padStart(8)} calls ${(s.ms / s.n * 1000).toFixed(0).padStart(7)} us avg ${s.max.toFixed(1).padStart(8)} ms max ${s.ms.toFixed(0).padStart(8)} ms total`);
    return [`fuse ops (committer: ${this.committer.batches} batches, ${this.committer.committed} items)`, ...lines].join('\n');
  }

  private rawOps(): FuseOps {
    return {
      getattr: (path, cb) => {
        if (this.closed) return cb(EIO);
        try {
          const s = this.statOf(path);
          if (typeof s === 'number') cb(s);
          else cb(0, s);
        } catch (e) {
          cb(toErrno(e, 'getattr', path));
        }
      },

      readdir: (path, cb) => {
        if (this.closed) return cb(EIO);
        try {
          const w = where(path);
          let names: string[] | number;
          if (w.k === 'live') names = this.liveNames(path);
          else if (w.k === 'snaps') names = [...this.fs.state.snapshots().map((s) => s.label)];
          else if (w.k === 'snap') {
            const st = this.snapshotState(w.label);
            const n = st?.lookup(w.path);
            names = !st || !n ? ENOENT : n.type !== 'dir' ? ENOTDIR : st.readdir(w.path);
          } else {
            const v = this.conflicts.resolve(w.path);
            names = !v ? ENOENT : v.type !== 'dir' ? ENOTDIR : this.conflicts.children(w.path);
          }
          if (typeof names === 'number') return cb(names);
          const stats: FuseStat[] = [];
          const out: string[] = [];
          const dirStat = this.statOf(path);
          if (typeof dirStat !== 'number') {
            out.push('.', '..');
            stats.push(dirStat, dirStat);
          }
          const pre = path === '/' ? '/' : path + '/';
          for (const name of names) {
            const s = this.statOf(pre + name);
            if (typeof s === 'number') continue;
            out.push(name);
            stats.push(s);
          }
          cb(0, out, stats);
        } catch (e) {
          cb(toErrno(e, 'readdir', path));
        }
      },

      access: (path, mode, cb) => this.go('access', path, cb, () => {
        const s = this.statOf(path);
        if (typeof s === 'number') fail(s);
        const w = where(path);
        if (mode & W_OK) {
          if (w.k !== 'live') fail(EROFS);
          if ((s.mode & S_IFDIR) === S_IFDIR ? !this.dirWritable(path) : !this.writable(path)) fail(EACCES);
        }
        if (mode & X_OK && (s.mode & 0o170000) === S_IFREG && !(s.mode & 0o111)) fail(EACCES);
      }),

      statfs: (path, cb) => {
        statfsCb(this.fs.dir, (err, s) => {
          if (err) return cb(toErrno(err, 'statfs', path));
          const cap = (n: number | bigint) => Math.min(Number(n), 0xffffffff);
          const st: FuseStatfs = {
            bsize: cap(s.bsize), frsize: cap(s.bsize), blocks: cap(s.blocks), bfree: cap(s.bfree), bavail: cap(s.bavail),
            files: cap(s.files), ffree: cap(s.ffree), favail: cap(s.ffree), fsid: 0x62617365 /* "base" */, flag: 0, namemax: 255,
          };
          cb(0, st);
        });
      },

      open: (path, flags, cb) => this.goV('open', path, cb, async () => {
        const wr = (flags & O_ACCMODE) !== 0;
        const w = where(path);
        if (w.k !== 'live') {
          if (wr) fail(EROFS);
          const n = this.readNode(path);
          if (!n) fail(ENOENT);
          return this.newFd({ write: false, df: null, reader: this.reader(n.root, n.size, path) });
        }
        const hid = this.hidden.get(path);
        if (hid) {
          if (hid.df) {
            hid.df.refs++;
            if (wr) hid.df.writers++;
            return this.newFd({ write: wr, df: hid.df, reader: null });
          }
          if (wr) fail(EACCES);
          return this.newFd({ write: false, df: null, reader: this.reader(hid.root, hid.size, path) });
        }
        let df = this.dirty.get(path) ?? null;
        const n = this.look(path);
        if (!df && !n) fail(ENOENT);
        if (!df && n!.type === 'dir') {
          if (wr) fail(EISDIR);
          return this.newFd({ write: false, df: null, reader: null });
        }
        if (wr) {
          this.requireWritable(path);
          df ??= this.newDirty(path, this.fs.state.lookup(path));
          df.refs++;
          df.writers++;
          const fd = this.newFd({ write: true, df, reader: null });
          if (flags & O_TRUNC) {
            const d = df;
            try {
              await d.lock.run(() => d.truncate(0));
            } catch (e) {
              this.dropHandle(fd);
              throw e;
            }
          }
          return fd;
        }
        if (df) {
          df.refs++;
          return this.newFd({ write: false, df, reader: null });
        }
        return this.newFd({ write: false, df: null, reader: this.reader(n!.root, n!.size, path) });
      }),

      create: (path, mode, cb) => this.goV('create', path, cb, () => {
        const w = where(path);
        if (w.k !== 'live') fail(EROFS);
        if (RESERVED.has(path)) fail(EPERM, `${path} is reserved for the virtual folder`);
        const parent = this.look(parentOf(path));
        if (!parent) fail(ENOENT);
        if (parent.type !== 'dir') fail(ENOTDIR);
        this.requireWritable(path);
        let df = this.dirty.get(path);
        if (!df) {
          const n = this.look(path);
          if (n?.type === 'dir') fail(EISDIR);
          if (n) df = this.newDirty(path, this.fs.state.lookup(path)); // appeared meanwhile (remote): open it
          else {
            df = new DirtyFile(path, { mode: mode & 0o7777, mtime: Date.now(), base: null, inLog: false, tmpDir: this.tmpDir, io: this.io });
            this.dirty.set(path, df);
            df.changed();
            this.times.childChanged(path);
          }
        }
        df.refs++;
        df.writers++;
        return this.newFd({ write: true, df, reader: null });
      }),

      read: (path, fd, buf, len, pos, cb) => this.goN('read', path, cb, async () => {
        const h = this.handle(fd);
        if (pos === 0) this.readAt(path);
        if (h.df) {
          const df = h.df;
          return df.lock.run(() => df.read(buf, len, pos));
        }
        return h.reader ? h.reader.read(buf, len, pos) : 0;
      }),

      write: (path, fd, buf, len, pos, cb) => this.goN('write', path, cb, async () => {
        const h = this.handle(fd);
        if (!h.write || !h.df) fail(EBADF);
        const df = h.df;
        h.wrote = true;
        await df.lock.run(() => df.write(buf, len, pos));
        return len;
      }),

      // close(2): queue the file's changes for the committer (see docs/FUSE.md).
      flush: (path, fd, cb) => this.go('flush', path, cb, async () => {
        const h = this.handles.get(fd);
        // The shell's `>` closes the file once before writing (open, dup2, close): a file
        // that has a version in the log and that this open truncated, with nothing written
        // through it yet, is not committed here (peers would see an empty version of it); the
        // next close or the release commits it. A new empty file is committed as usual.
        if (h?.write && h.df && h.df.pending && h.df.inLog && !h.wrote && h.df.size === 0) return;
        if (h?.write && h.df && h.df.pending) await this.settle(h.df);
      }),

      // fsync(2): the file's WRITE entry is durable when this returns.
      fsync: (path, _datasync, fd, cb) => this.go('fsync', path, cb, async () => {
        const h = this.handles.get(fd);
        if (h?.df) await this.committer.durable(h.df).catch((e) => fail(closeErrno(e)));
      }),

      release: (path, fd, cb) => {
        const h = this.handles.get(fd);
        if (!h) return cb(0);
        this.release(h).then(() => cb(0), (e) => {
          logger.warn({ path, err: (e as Error).message }, 'release failed');
          cb(0);
        });
      },

      truncate: (path, size, cb) => this.go('truncate', path, cb, async () => {
        if (where(path).k !== 'live') fail(EROFS);
        if (this.hidden.has(path)) fail(EACCES);
        let df = this.dirty.get(path);
        this.requireWritable(path);
        if (!df) {
          const n = this.look(path);
          if (!n) fail(ENOENT);
          if (n.type === 'dir') fail(EISDIR);
          if (n.type !== 'file') fail(EINVAL);
          if (n.size === size) return;
          df = this.newDirty(path, this.fs.state.lookup(path));
        }
        const d = df;
        await d.lock.run(() => d.truncate(size));
        if (d.writers === 0) await this.settle(d);
      }),

      ftruncate: (path, fd, size, cb) => this.go('ftruncate', path, cb, async () => {
        const h = this.handle(fd);
        if (!h.write || !h.df) fail(EINVAL);
        const df = h.df;
        await df.lock.run(() => df.truncate(size));
      }),

      mkdir: (path, mode, cb) => this.go('mkdir', path, cb, async () => {
        const w = where(path);
        if (w.k === 'snaps') fail(EEXIST);
        if (w.k === 'snap') {
          if (w.path !== '/') fail(EROFS, 'snapshots are read-only');
          if (this.snapshotState(w.label)) fail(EEXIST);
          if (!this.fs.kp) fail(EACCES);
          await this.drainIfBusy(); // the snapshot covers every file closed before it
          await this.fs.snapshot(w.label);
          this.snapList = null;
          return;
        }
        if (w.k === 'conf') fail(w.path === '/' ? EEXIST : EROFS);
        if (this.look(path) || this.dirty.has(path) || this.hidden.has(path)) fail(EEXIST);
        const parent = this.look(parentOf(path));
        if (!parent) fail(ENOENT);
        if (parent.type !== 'dir') fail(ENOTDIR);
        this.requireWritable(path);
        const pd: PendingDir = { mode: mode & 0o7777, mtime: Date.now(), op: null as unknown as Op };
        pd.op = this.queueOp({ kind: Kind.MKDIR, path, mode: mode & 0o7777 }, () => {
          if (this.pendingDirs.get(path) === pd) this.pendingDirs.delete(path);
        });
        this.pendingDirs.set(path, pd);
        await this.committer.landed(pd.op);
      }),

      rmdir: (path, cb) => this.go('rmdir', path, cb, async () => {
        const w = where(path);
        if (w.k === 'snaps' || (w.k === 'snap' && w.path === '/')) fail(EPERM, 'snapshots are permanent');
        if (w.k !== 'live') fail(w.k === 'conf' && w.path === '/' ? EPERM : EROFS);
        if (path === '/') fail(EPERM);
        await this.drainIfBusy();
        const n = this.fs.state.lookup(path);
        if (!n) fail(this.dirty.has(path) || this.hidden.has(path) ? ENOTDIR : ENOENT);
        if (n.type !== 'dir') fail(ENOTDIR);
        const names = this.liveNames(path);
        if (typeof names !== 'number' && names.length > 0) fail(ENOTEMPTY);
        for (const h of this.hidden.keys()) if (parentOf(h) === path) fail(ENOTEMPTY);
        this.requireWritable(path);
        await this.fs.remove(path);
      }),

      unlink: (path, cb) => this.go('unlink', path, cb, async () => {
        const w = where(path);
        if (w.k !== 'live') fail(w.k === 'snaps' || w.k === 'conf' && w.path === '/' ? EPERM : EROFS);
        const hid = this.hidden.get(path);
        if (hid) {
          this.hidden.delete(path);
          if (hid.df) hid.df.unlinked = true;
          return;
        }
        const df = this.dirty.get(path);
        const n = this.look(path);
        if (!n && !df) fail(ENOENT);
        if (n?.type === 'dir') fail(EISDIR);
        this.requireWritable(path);
        if (df) {
          // its queued WRITE is dropped; one already in flight lands before our DELETE
          df.unlinked = true;
          this.committer.cancel(df);
          this.dirty.delete(path);
          if (df.refs === 0 && !df.inflight) await this.forget(df);
        }
        if (!n && !(df && df.inflight)) {
          this.times.removed(path); // created here and never committed: nothing to delete
          return;
        }
        this.pendingAttrs.delete(path);
        const op = this.queueOp({ kind: Kind.DELETE, path }, () => {
          if (this.pendingDeletes.get(path) === op) this.pendingDeletes.delete(path);
        });
        this.pendingDeletes.set(path, op);
        await this.committer.landed(op);
      }),

      rename: (src, dest, cb) => this.go('rename', src, cb, () => this.rename(src, dest)),

      symlink: (target, path, cb) => this.go('symlink', path, cb, async () => {
        if (where(path).k !== 'live') fail(EROFS);
        if (RESERVED.has(path)) fail(EPERM);
        if (this.look(path) || this.dirty.has(path) || this.hidden.has(path)) fail(EEXIST);
        this.requireWritable(path);
        await this.drainIfBusy();
        await this.fs.symlink(target, path);
      }),

      readlink: (path, cb) => this.goV('readlink', path, cb, () => {
        const hid = this.hidden.get(path);
        if (hid) return hid.type === 'symlink' ? hid.target : fail(EINVAL);
        const n = this.readNode(path);
        if (!n) fail(ENOENT);
        if (n.type !== 'symlink') fail(EINVAL);
        return n.target;
      }),

      chmod: (path, mode, cb) => this.go('chmod', path, cb, async () => {
        if (where(path).k !== 'live') fail(EROFS);
        const perm = mode & 0o7777;
        const hid = this.hidden.get(path);
        if (hid) {
          hid.mode = perm;
          return;
        }
        this.requireWritable(path);
        const df = this.dirty.get(path);
        if (df && (df.pending || df.inflight)) {
          // goes with the file's WRITE entry
          if (df.mode !== perm) {
            df.mode = perm;
            df.changed();
            if (df.writers === 0) await this.settle(df);
          }
          return;
        }
        const n = this.look(path);
        if (!n) fail(ENOENT);
        if (df) {
          df.mode = perm;
          df.ctime = Date.now(); // shown while it stays open: the SETATTR below is this change
        }
        if (n.type === 'symlink' || (n.mode & 0o7777) === perm) return;
        const pd = this.pendingDirs.get(path);
        if (pd && !pd.op.taken && !this.pendingAttrs.has(path)) {
          pd.mode = perm;
          pd.op.draft = { ...pd.op.draft, mode: perm };
          return this.committer.landed(pd.op);
        }
        await this.committer.landed(this.queueAttrs(path, n, { mode: perm }));
      }),

      chown: (path, uid, gid, cb) => this.go('chown', path, cb, () => this.chown(path, uid, gid)),

      utimens: (path, atime, mtime, cb) => this.go('utimens', path, cb, async () => {
        if (where(path).k !== 'live') fail(EROFS);
        // Patched binding: the real times, UTIME_NOW/UTIME_OMIT arrive as NOW_OR_OMIT (both
        // NOW_OR_OMIT: touch, touch -m, also touch -a; mtime alone NOW_OR_OMIT: left alone).
        // Unpatched: libfuse sends both times and the binding gives us atime twice.
        // atime is node-local (docs/FUSE.md, "Times"): a NOW_OR_OMIT atime beside a real mtime
        // is taken as UTIME_OMIT (tar x, touch -m -d), beside another NOW_OR_OMIT as now.
        let m = this.utimensFixed ? mtime : atime;
        let a: number | null = atime;
        if (this.utimensFixed && atime === NOW_OR_OMIT) a = mtime === NOW_OR_OMIT ? Date.now() : null;
        const keepMtime = this.utimensFixed && m === NOW_OR_OMIT && atime !== NOW_OR_OMIT;
        if (this.utimensFixed && m === NOW_OR_OMIT) m = Date.now();
        const hid = this.hidden.get(path);
        if (hid) {
          if (!keepMtime) hid.mtime = m;
          return;
        }
        this.requireWritable(path);
        const df = this.dirty.get(path);
        if (df && (df.pending || df.inflight)) {
          if (a !== null) this.times.setAtime(path, a);
          if (!keepMtime && df.mtime !== m) {
            df.mtime = m;
            df.changed();
            if (df.writers === 0) await this.settle(df);
          }
          return;
        }
        const n = this.look(path);
        if (!n) fail(ENOENT);
        if (a !== null) this.times.setAtime(path, a);
        if (keepMtime) return;
        if (df) {
          df.mtime = m;
          df.ctime = Date.now(); // shown while it stays open: the SETATTR below is this change
        }
        this.times.mtimeSet(path);
        if (n.mtime === m) return;
        const pd = this.pendingDirs.get(path);
        if (pd) pd.mtime = m; // shown now; recorded by a SETATTR after the MKDIR
        await this.committer.landed(this.queueAttrs(path, n, { mtime: m }));
      }),

      link: (_src, dest, cb) => cb(where(dest).k === 'live' ? EPERM : EROFS), // no hard links
    };
  }

  // chown/chgrp/fchown: owner and group by name (docs/FUSE.md, "Owners"). Like chmod, on a file
  // with local changes they go with its WRITE, otherwise they are a SETATTR.
  private async chown(path: string, uid: number, gid: number): Promise<void> {
    if (where(path).k !== 'live') fail(EROFS);
    const s = this.statOf(path);
    if (typeof s === 'number') fail(s);
    const hid = this.hidden.get(path);
    if (hid) return; // unlinked while open: nothing of it reaches the log
    const df = this.dirty.get(path);
    const n = df && (df.pending || df.inflight) ? null : this.look(path);
    const cur: Owned = n ?? df ?? NOT_OWNED;
    const want = chownNames(this.ids, { uid: s.uid, gid: s.gid, cur }, uid, gid, !this.allowOther);
    if (!want) return;
    this.requireWritable(path);
    if (df && (df.pending || df.inflight)) {
      df.owner = want.owner;
      df.group = want.group;
      df.changed();
      if (df.writers === 0) await this.settle(df);
      return;
    }
    if (!n) fail(ENOENT);
    if (df) {
      df.owner = want.owner;
      df.group = want.group;
      df.ctime = Date.now(); // shown while it stays open: the SETATTR below is this change
    }
    const pd = this.pendingDirs.get(path);
    if (pd && !pd.op.taken && !this.pendingAttrs.has(path)) {
      pd.op.draft = { ...pd.op.draft, owner: want.owner, group: want.group };
      pd.owner = want.owner;
      pd.group = want.group;
      return this.committer.landed(pd.op);
    }
    await this.committer.landed(this.queueAttrs(path, n, want));
  }

  private dropHandle(fd: number): void {
    const h = this.handles.get(fd);
    if (!h) return;
    this.handles.delete(fd);
    if (h.df) {
      h.df.refs--;
      if (h.write) h.df.writers--;
    }
  }

  // atime (node-local, relatime): on the read at offset 0 of a live file.
  private readAt(path: string): void {
    if (where(path).k !== 'live') return;
    const df = this.dirty.get(path);
    const m = df ? df.mtime : this.look(path)?.mtime;
    if (m !== undefined) this.times.accessed(path, m);
  }

  private reader(root: Uint8Array | null, size: number, path: string): Reader | null {
    return root && size > 0 ? new Reader(this.io, root, size, `${this.fs.name}:${path}`) : null;
  }

  // The last close of a handle: queue what it wrote; forget the file once nothing refers to it.
  private async release(h: Handle): Promise<void> {
    this.handles.delete(h.fd);
    const df = h.df;
    if (!df) return;
    df.refs--;
    if (h.write) df.writers--;
    if (h.write && df.writers === 0 && df.pending && !this.closed) this.sched(df);
    if (df.refs > 0) return;
    for (const hid of this.hidden.values()) {
      if (hid.df === df) {
        hid.size = df.size;
        hid.mtime = df.mtime;
        hid.df = null;
        hid.root = null; // its bytes go with the buffer; the name is about to be unlinked
      }
    }
    if (df.discarded || (!df.pending && !df.queued && !df.inflight)) await this.forget(df);
  }

  private async rename(src: string, dest: string): Promise<void> {
    const ws = where(src);
    const wd = where(dest);
    if (RESERVED.has(src) || RESERVED.has(dest)) fail(EPERM, 'reserved name');
    if (ws.k !== 'live' || wd.k !== 'live') fail(EROFS);
    if (src === dest) return;
    if (HIDDEN_RE.test(baseName(dest))) return this.hide(src, dest);
    const hid = this.hidden.get(src);
    if (hid) {
      // a hidden (unlinked) file given a name again: not in the log, keep it virtual
      this.hidden.delete(src);
      this.hidden.set(dest, hid);
      return;
    }
    const dfSrc = this.dirty.get(src);
    if (dfSrc && !dfSrc.inflight && !this.fs.state.lookup(src) && !dfSrc.discarded) {
      // a new file the log has not seen yet (sed -i, rsync, editors and git write a temp file
      // and rename it over the target): it simply becomes a WRITE at the target
      this.requireWritable(src);
      this.requireWritable(dest);
      const parent = this.look(parentOf(dest));
      if (!parent) fail(ENOENT);
      if (parent.type !== 'dir') fail(ENOTDIR);
      const dst = this.look(dest);
      if (dst?.type === 'dir') fail(EISDIR);
      const dfDst = this.dirty.get(dest);
      if (dfDst && dfDst !== dfSrc) await this.replaced(dfDst);
      if (this.pendingAttrs.has(dest)) await this.drainIfBusy(); // its SETATTR must not land after our WRITE
      this.dirty.delete(src);
      dfSrc.path = dest;
      dfSrc.inLog = !!dst;
      this.dirty.set(dest, dfSrc);
      dfSrc.changed();
      this.committer.cancel(dfSrc); // re-queued at the end: after any MKDIR of its new directory
      this.times.removed(src);
      this.times.childChanged(dest);
      if (dfSrc.writers === 0) await this.settle(dfSrc);
      return;
    }
    // everything queued lands first, so the RENAME follows it in the log
    await this.drainIfBusy();
    const n = this.fs.state.lookup(src);
    const df = this.dirty.get(src);
    if (!n && !df) fail(ENOENT);
    this.requireWritable(src);
    this.requireWritable(dest);
    const dst = this.fs.state.lookup(dest);
    const srcIsDir = n?.type === 'dir';
    if (dst && srcIsDir && dst.type !== 'dir') fail(ENOTDIR);
    if (dst?.type === 'dir' && !srcIsDir) fail(EISDIR);
    if (srcIsDir && isUnder(dest, src)) fail(EINVAL);
    if (df && df.pending && !df.discarded) await this.committer.durable(df);
    await this.fs.rename(src, dest);
    const dfDst = this.dirty.get(dest);
    if (dfDst && dfDst !== df) await this.replaced(dfDst);
    const moved: [string, DirtyFile][] = [];
    for (const [p, d] of this.dirty) if (isUnder(p, src)) moved.push([p, d]);
    for (const [p, d] of moved) {
      this.dirty.delete(p);
      d.path = dest + p.slice(src.length);
      this.dirty.set(d.path, d);
    }
    const movedHidden: [string, Hidden][] = [];
    for (const [p, h] of this.hidden) if (isUnder(p, src)) movedHidden.push([p, h]);
    for (const [p, h] of movedHidden) {
      this.hidden.delete(p);
      this.hidden.set(dest + p.slice(src.length), h);
    }
  }

  // A file replaced (renamed over) while open: its later writes go nowhere, as on POSIX.
  private async replaced(df: DirtyFile): Promise<void> {
    df.unlinked = true;
    this.committer.cancel(df);
    if (this.dirty.get(df.path) === df) this.dirty.delete(df.path);
    if (df.refs === 0) await this.forget(df);
  }

  // libfuse's rename of an open file to .fuse_hidden*: the file is deleted from the log now,
  // its open handles keep working until the last close.
  private async hide(src: string, dest: string): Promise<void> {
    let df = this.dirty.get(src) ?? null;
    if (!df || df.inflight || this.fs.state.lookup(src)) await this.drainIfBusy();
    df = this.dirty.get(src) ?? null;
    const n = this.fs.state.lookup(src);
    if (!n && !df) fail(ENOENT);
    if (n?.type === 'dir') fail(EISDIR);
    this.requireWritable(src);
    if (n) await this.fs.remove(src);
    const rec: Hidden = {
      type: n?.type === 'symlink' ? 'symlink' : 'file',
      mode: df ? df.mode : (n?.mode ?? 0o644),
      mtime: df ? df.mtime : (n?.mtime ?? Date.now()),
      size: df ? df.size : n?.type === 'symlink' ? Buffer.byteLength(n.target ?? '') : (n?.size ?? 0),
      root: n?.root ?? null,
      target: n?.target ?? '',
      df,
    };
    if (df) {
      this.dirty.delete(src);
      this.committer.cancel(df);
      df.hidden = true;
      df.path = dest;
    }
    this.hidden.set(dest, rec);
  }
}
