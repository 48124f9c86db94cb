import { statfs as statfsCb, mkdirSync, rmSync, writeFileSync, copyFileSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import type { Filesystem } from '../node/filesystem.ts';
import { FsState, type Inode } from '../view/state.ts';
import { Kind, type Entry } from '../log/entry.ts';
import { parentOf, baseName, isUnder } from '../log/path.ts';
import { bytesEqual } from '../crypto/hash.ts';
import { logger } from '../node/logger.ts';
import { DirtyFile, type ContentIO, type ReadCache, type ContentRef } from './dirty.ts';
import { ConflictTree, type VNode } from './conflicts.ts';
import type { FuseOps, FuseStat, FuseStatfs } from './native.ts';
import {
  fail, toErrno, ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EACCES, EPERM, EINVAL, EROFS, EBADF, EIO,
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

interface Handle {
  fd: number;
  write: boolean;
  df: DirtyFile | null;
  pin: { root: Uint8Array | null; size: number; label: string } | null;
  cache: ReadCache;
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
  utimensFixed?: boolean; // fuse-native passes the real mtime (see native.ts)
}

// The FUSE operations over one Filesystem. Every handler answers through its callback exactly
// once, with 0 / a value or a negative errno; nothing throws out of a handler.
export class FuseFs {
  readonly fs: Filesystem;
  private readonly io: ContentIO;
  private readonly uid: number;
  private readonly gid: number;
  private readonly utimensFixed: boolean;
  private readonly tmpDir: string;
  private readonly lostDir: string;
  private handles = new Map<number, Handle>();
  private nextFd = 1;
  private dirty = new Map<string, DirtyFile>();
  private hidden = new Map<string, Hidden>();
  private wcache = new Map<string, boolean>();
  private grantPaths: string[] | null = null;
  private snapList: Map<string, string> | null = null;
  private snapStates = new Map<string, FsState>();
  private conflicts: ConflictTree;
  private closed = false;
  private onEntries: (es: Entry[]) => void;

  constructor(fs: Filesystem, io: ContentIO, o: FuseFsOptions = {}) {
    this.fs = fs;
    this.io = io;
    this.uid = o.uid ?? process.getuid?.() ?? 0;
    this.gid = o.gid ?? process.getgid?.() ?? 0;
    this.utimensFixed = !!o.utimensFixed;
    this.tmpDir = join(fs.dir, 'fuse-tmp');
    this.lostDir = join(fs.dir, 'fuse-lost');
    rmSync(this.tmpDir, { recursive: true, force: true }); // buffers of a crashed mount
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    this.conflicts = new ConflictTree(fs);
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

  private stat(type: 'dir' | 'file' | 'symlink', perm: number, size: number, mtime: number): FuseStat {
    const bits = type === 'dir' ? S_IFDIR : type === 'symlink' ? S_IFLNK : S_IFREG;
    return {
      mode: bits | perm,
      uid: this.uid,
      gid: this.gid,
      size,
      nlink: 1,
      mtime,
      atime: mtime,
      ctime: mtime,
      blksize: 128 * 1024,
      blocks: Math.ceil(size / 512),
    };
  }

  private inodeStat(n: Inode | VNode, canWrite: boolean): FuseStat {
    if (n.type === 'symlink') return this.stat('symlink', 0o777, Buffer.byteLength(n.target ?? ''), n.mtime);
    let perm = n.mode & 0o7777;
    if (!canWrite) perm &= ~0o222;
    if (n.type === 'dir') return this.stat('dir', perm, 4096, n.mtime);
    return this.stat('file', perm, n.size, n.mtime);
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
      if (df) return this.stat('file', this.writable(path) ? df.mode & 0o7777 : df.mode & 0o7555, df.size, df.mtime);
      const n = this.fs.state.lookup(path);
      if (!n) return ENOENT;
      return this.inodeStat(n, n.type === 'dir' ? this.dirWritable(path) : this.writable(path));
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
      const n = this.fs.state.lookup(path);
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
    const n = this.fs.state.lookup(path);
    if (!n) return this.dirty.has(path) || this.hidden.has(path) ? ENOTDIR : ENOENT;
    if (n.type !== 'dir') return ENOTDIR;
    const names = this.fs.state.readdir(path);
    let extra: string[] | null = null;
    for (const df of this.dirty.values()) {
      if (df.inLog || df.discarded || parentOf(df.path) !== path) continue;
      (extra ??= []).push(baseName(df.path));
    }
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
    const df = new DirtyFile(path, { mode: n ? n.mode & 0o7777 : 0o644, mtime: n?.mtime ?? Date.now(), base, inLog: !!n, tmpDir: this.tmpDir, io: this.io });
    this.dirty.set(path, df);
    return df;
  }

  // Turns a file's pending changes into one WRITE entry.
  private commit(df: DirtyFile): Promise<void> {
    return df.lock.run(async () => {
      if (!df.pending || df.discarded) return;
      const ref = await df.store();
      await this.fs.writeContent(df.path, ref, df.mode, df.mtime);
      df.base = ref;
      df.inLog = true;
      df.pending = false;
      df.wrote = false;
    });
  }

  // A release whose commit failed cannot report it to the program any more: keep the bytes.
  private async saveLost(df: DirtyFile, err: unknown): Promise<void> {
    try {
      mkdirSync(this.lostDir, { recursive: true, mode: 0o700 });
      const dest = join(this.lostDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${baseName(df.path) || 'file'}`);
      const buf = df.buf;
      if (buf) {
        const c = await buf.content();
        if ('buffer' in c) writeFileSync(dest, c.buffer, { mode: 0o600 });
        else copyFileSync(c.file, dest);
      }
      logger.error({ path: df.path, err: (err as Error)?.message, savedAs: buf ? dest : null }, 'could not commit a file at close; its content was kept in fuse-lost');
    } catch (e) {
      logger.error({ path: df.path, err: (err as Error)?.message, saveErr: (e as Error).message }, 'could not commit a file at close and could not save it');
    }
  }

  // Commits every file with pending changes (unmount, SIGTERM).
  async flushAll(): Promise<void> {
    for (const df of [...this.dirty.values()]) {
      if (!df.pending || df.discarded) continue;
      try {
        await this.commit(df);
      } catch (e) {
        await this.saveLost(df, e);
      }
    }
  }

  // After unmount: refuse everything, drop buffers.
  async close(): Promise<void> {
    await this.flushAll();
    this.closed = true;
    this.fs.off('entries', this.onEntries);
    for (const df of new Set([...this.dirty.values(), ...[...this.handles.values()].map((h) => h.df).filter((d): d is DirtyFile => !!d)])) {
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
          return this.newFd({ write: false, df: null, pin: { root: n.root, size: n.size, label: path }, cache: {} });
        }
        const hid = this.hidden.get(path);
        if (hid) {
          if (hid.df) {
            hid.df.refs++;
            if (wr) hid.df.writers++;
            return this.newFd({ write: wr, df: hid.df, pin: null, cache: {} });
          }
          if (wr) fail(EACCES);
          return this.newFd({ write: false, df: null, pin: { root: hid.root, size: hid.size, label: path }, cache: {} });
        }
        let df = this.dirty.get(path) ?? null;
        const n = this.fs.state.lookup(path);
        if (!df && !n) fail(ENOENT);
        if (!df && n!.type === 'dir') {
          if (wr) fail(EISDIR);
          return this.newFd({ write: false, df: null, pin: null, cache: {} });
        }
        if (wr) {
          this.requireWritable(path);
          df ??= this.newDirty(path, n);
          df.refs++;
          df.writers++;
          const fd = this.newFd({ write: true, df, pin: null, cache: {} });
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
          return this.newFd({ write: false, df, pin: null, cache: {} });
        }
        return this.newFd({ write: false, df: null, pin: { root: n!.root ?? null, size: n!.size, label: path }, cache: {} });
      }),

      create: (path, mode, cb) => this.goV('create', path, cb, () => {
        const w = where(path);
        if (w.k !== 'live') fail(EROFS);
        if (RESERVED.has(path)) fail(EPERM, `${path} is reserved for the virtual folder`);
        const parent = this.fs.state.lookup(parentOf(path));
        if (!parent) fail(ENOENT);
        if (parent.type !== 'dir') fail(ENOTDIR);
        this.requireWritable(path);
        let df = this.dirty.get(path);
        if (!df) {
          const n = this.fs.state.lookup(path);
          if (n?.type === 'dir') fail(EISDIR);
          if (n) df = this.newDirty(path, n); // appeared meanwhile (remote): open it
          else {
            df = new DirtyFile(path, { mode: mode & 0o7777, mtime: Date.now(), base: null, inLog: false, tmpDir: this.tmpDir, io: this.io });
            this.dirty.set(path, df);
          }
        }
        df.refs++;
        df.writers++;
        return this.newFd({ write: true, df, pin: null, cache: {} });
      }),

      read: (path, fd, buf, len, pos, cb) => this.goN('read', path, cb, async () => {
        const h = this.handle(fd);
        if (h.df) {
          const df = h.df;
          return df.lock.run(() => df.read(buf, len, pos, h.cache));
        }
        const p = h.pin;
        if (!p || !p.root) return 0;
        const n = Math.min(len, p.size - pos);
        if (n <= 0) return 0;
        const data = await this.io.read(p.root, pos, n, `${this.fs.name}:${p.label}`, h.cache);
        buf.set(data, 0);
        return data.length;
      }),

      write: (path, fd, buf, len, pos, cb) => this.goN('write', path, cb, async () => {
        const h = this.handle(fd);
        if (!h.write || !h.df) fail(EBADF);
        const df = h.df;
        await df.lock.run(() => df.write(buf, len, pos));
        return len;
      }),

      // close(2): commit what was written through any handle of the file (see docs/FUSE.md).
      flush: (path, fd, cb) => this.go('flush', path, cb, async () => {
        const h = this.handles.get(fd);
        if (h?.write && h.df && h.df.wrote) await this.commit(h.df);
      }),

      fsync: (path, _datasync, fd, cb) => this.go('fsync', path, cb, async () => {
        const h = this.handles.get(fd);
        if (h?.df && h.df.pending) await this.commit(h.df);
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
        const df = this.dirty.get(path);
        this.requireWritable(path);
        if (df) {
          await df.lock.run(() => df.truncate(size));
          if (df.writers === 0) await this.commit(df);
          return;
        }
        const n = this.fs.state.lookup(path);
        if (!n) fail(ENOENT);
        if (n.type === 'dir') fail(EISDIR);
        if (n.type !== 'file') fail(EINVAL);
        if (n.size === size) return;
        const tmp = this.newDirty(path, n);
        try {
          await tmp.lock.run(() => tmp.truncate(size));
          await this.commit(tmp);
        } finally {
          if (this.dirty.get(path) === tmp) this.dirty.delete(path);
          await tmp.lock.run(() => tmp.dispose());
        }
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
          await this.fs.snapshot(w.label);
          this.snapList = null;
          return;
        }
        if (w.k === 'conf') fail(w.path === '/' ? EEXIST : EROFS);
        if (this.fs.state.lookup(path) || this.dirty.has(path) || this.hidden.has(path)) fail(EEXIST);
        this.requireWritable(path);
        await this.fs.mkdir(path, mode & 0o7777);
      }),

      rmdir: (path, cb) => this.go('rmdir', path, cb, async () => {
        const w = where(path);
        if (w.k === 'snaps' || (w.k === 'snap' && w.path === '/')) fail(EPERM, 'snapshots are permanent');
        if (w.k !== 'live') fail(w.k === 'conf' && w.path === '/' ? EPERM : EROFS);
        if (path === '/') fail(EPERM);
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
        const n = this.fs.state.lookup(path);
        if (!n && !df) fail(ENOENT);
        if (n?.type === 'dir') fail(EISDIR);
        this.requireWritable(path);
        if (n) await this.fs.remove(path);
        if (df) {
          df.unlinked = true;
          this.dirty.delete(path);
        }
      }),

      rename: (src, dest, cb) => this.go('rename', src, cb, () => this.rename(src, dest)),

      symlink: (target, path, cb) => this.go('symlink', path, cb, async () => {
        if (where(path).k !== 'live') fail(EROFS);
        if (RESERVED.has(path)) fail(EPERM);
        if (this.fs.state.lookup(path) || this.dirty.has(path) || this.hidden.has(path)) fail(EEXIST);
        this.requireWritable(path);
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
        if (df) {
          df.mode = perm;
          if (df.pending) return; // goes with the WRITE entry
        }
        const n = this.fs.state.lookup(path);
        if (!n) fail(ENOENT);
        if (n.type === 'symlink' || (n.mode & 0o7777) === perm) return;
        await this.fs.setattr(path, { mode: perm });
      }),

      chown: (path, _uid, _gid, cb) => this.go('chown', path, cb, () => {
        // Ownership is not part of the log: accepted and ignored, so cp -a, tar and rsync work.
        if (where(path).k !== 'live') fail(EROFS);
        const s = this.statOf(path);
        if (typeof s === 'number') fail(s);
      }),

      utimens: (path, atime, mtime, cb) => this.go('utimens', path, cb, async () => {
        if (where(path).k !== 'live') fail(EROFS);
        // Patched binding: the real mtime, UTIME_NOW/UTIME_OMIT arrive as NOW_OR_OMIT (both
        // NOW_OR_OMIT: touch, touch -m, also touch -a; mtime alone NOW_OR_OMIT: left alone).
        // Unpatched: libfuse sends both times and the binding gives us atime twice.
        let m = this.utimensFixed ? mtime : atime;
        if (this.utimensFixed && m === NOW_OR_OMIT) {
          if (atime !== NOW_OR_OMIT) return;
          m = Date.now();
        }
        const hid = this.hidden.get(path);
        if (hid) {
          hid.mtime = m;
          return;
        }
        this.requireWritable(path);
        const df = this.dirty.get(path);
        if (df) {
          df.mtime = m;
          if (df.pending) return;
        }
        const n = this.fs.state.lookup(path);
        if (!n) fail(ENOENT);
        if (n.type === 'symlink' || n.mtime === m) return;
        await this.fs.setattr(path, { mtime: m });
      }),

      link: (_src, dest, cb) => cb(where(dest).k === 'live' ? EPERM : EROFS), // no hard links
    };
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

  private async release(h: Handle): Promise<void> {
    this.handles.delete(h.fd);
    const df = h.df;
    if (!df) return;
    df.refs--;
    if (h.write) df.writers--;
    if (h.write && df.writers === 0 && df.pending && !df.discarded && !this.closed) {
      try {
        await this.commit(df);
      } catch (e) {
        await this.saveLost(df, e);
        df.pending = false;
      }
    }
    if (df.refs === 0) {
      if (this.dirty.get(df.path) === df) this.dirty.delete(df.path);
      for (const [p, hid] of this.hidden) {
        if (hid.df === df) {
          hid.size = df.size;
          hid.mtime = df.mtime;
          hid.df = null;
          hid.root = null; // its bytes go with the buffer; the name is about to be unlinked
          void p;
        }
      }
      await df.lock.run(() => df.dispose());
    }
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
    const n = this.fs.state.lookup(src);
    const dfSrc = this.dirty.get(src);
    if (!n && !dfSrc) fail(ENOENT);
    this.requireWritable(src);
    this.requireWritable(dest);
    const dst = this.fs.state.lookup(dest);
    const srcIsDir = n?.type === 'dir';
    if (dst && srcIsDir && dst.type !== 'dir') fail(ENOTDIR);
    if (dst?.type === 'dir' && !srcIsDir) fail(EISDIR);
    if (srcIsDir && isUnder(dest, src)) fail(EINVAL);
    if (dfSrc && dfSrc.pending && !dfSrc.discarded) await this.commit(dfSrc);
    await this.fs.rename(src, dest);
    const dfDst = this.dirty.get(dest);
    if (dfDst && dfDst !== dfSrc) {
      dfDst.unlinked = true; // replaced while open: its later writes go nowhere, as on POSIX
      this.dirty.delete(dest);
    }
    const moved: [string, DirtyFile][] = [];
    for (const [p, df] of this.dirty) if (isUnder(p, src)) moved.push([p, df]);
    for (const [p, df] of moved) {
      this.dirty.delete(p);
      df.path = dest + p.slice(src.length);
      this.dirty.set(df.path, df);
    }
    const movedHidden: [string, Hidden][] = [];
    for (const [p, h] of this.hidden) if (isUnder(p, src)) movedHidden.push([p, h]);
    for (const [p, h] of movedHidden) {
      this.hidden.delete(p);
      this.hidden.set(dest + p.slice(src.length), h);
    }
  }

  // libfuse's rename of an open file to .fuse_hidden*: the file is deleted from the log now,
  // its open handles keep working until the last close.
  private async hide(src: string, dest: string): Promise<void> {
    const n = this.fs.state.lookup(src);
    const df = this.dirty.get(src) ?? null;
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
      df.hidden = true;
      df.path = dest;
    }
    this.hidden.set(dest, rec);
  }
}
