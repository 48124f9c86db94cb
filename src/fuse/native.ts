import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../crypto/keyfile.ts';
import { logger } from '../node/logger.ts';

// Loading fuse-native 2.2.6, with two fixes applied to its prebuilt Linux x64 binding:
//
// 1. The utimens dispatcher passes the access time twice (fuse-native.c:
//    `FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)` where it means l->mtime), so a JS handler never
//    sees the modification time. Fix: the displacement byte 0x68 (l->atime) -> 0x70 (l->mtime).
// 2. fuse_operations.flag_utime_omit_ok is left 0, so libfuse 2.9 drops every utimensat() that
//    does not set both times: `tar x` (atime UTIME_OMIT, mtime from the archive) and
//    `touch -m -d` would not set mtime. Fix: the (never used by us) `ops.setxattr = ...`
//    assignment in fuse_native_mount becomes `orb $0x4, flags(ops)` (bit 2 of the flag word
//    after bmap, at rbp-0x8d0) plus a jump over the rest of the 23 bytes. With it libfuse passes
//    UTIME_NOW / UTIME_OMIT through; fuse-native turns both into 1073 ms (ops.ts decodes them).
//
// Both patches go into a private copy of the exact prebuild we know (checked by SHA-256 and by
// the bytes at each site), in a directory only this user or root can write; node-gyp-build is pointed at the copy with its documented
// FUSE_NATIVE_PREBUILD override. Any other build is loaded unchanged, and utimens then falls
// back to "mtime = the time we were given" (see docs/FUSE.md).

export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  mtime: number;
  atime: number;
  ctime: number;
  blksize?: number;
  blocks?: number;
  ino?: number;
}

export interface FuseStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

type Cb0 = (err: number) => void;
type Cb1<T> = (err: number, v?: T) => void;
type Cb2<T, U> = (err: number, v?: T, w?: U) => void;

export interface FuseOps {
  init?(cb: Cb0): void;
  getattr(path: string, cb: Cb1<FuseStat>): void;
  readdir(path: string, cb: Cb2<string[], FuseStat[]>): void;
  access?(path: string, mode: number, cb: Cb0): void;
  statfs?(path: string, cb: Cb1<FuseStatfs>): void;
  open?(path: string, flags: number, cb: Cb1<number>): void;
  create?(path: string, mode: number, cb: Cb1<number>): void;
  read?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void): void;
  write?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void): void;
  flush?(path: string, fd: number, cb: Cb0): void;
  fsync?(path: string, datasync: number, fd: number, cb: Cb0): void;
  release?(path: string, fd: number, cb: Cb0): void;
  truncate?(path: string, size: number, cb: Cb0): void;
  ftruncate?(path: string, fd: number, size: number, cb: Cb0): void;
  mkdir?(path: string, mode: number, cb: Cb0): void;
  rmdir?(path: string, cb: Cb0): void;
  unlink?(path: string, cb: Cb0): void;
  rename?(src: string, dest: string, cb: Cb0): void;
  symlink?(target: string, path: string, cb: Cb0): void;
  readlink?(path: string, cb: Cb1<string>): void;
  chmod?(path: string, mode: number, cb: Cb0): void;
  chown?(path: string, uid: number, gid: number, cb: Cb0): void;
  utimens?(path: string, atime: number, mtime: number, cb: Cb0): void;
  link?(src: string, dest: string, cb: Cb0): void;
  mknod?(path: string, mode: number, dev: number, cb: Cb0): void;
}

export interface FuseInstance {
  mnt: string;
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}

export interface FuseClass {
  new (mnt: string, ops: FuseOps, opts: Record<string, unknown>): FuseInstance;
  unmount(mnt: string, cb: (err: Error | null) => void): void;
  [errno: string]: unknown;
}

const KNOWN_SHA256 = '0852320a710f20cb7f5be2ededbdcce714e88a849ae317609f734766d23e18fd';
const PATCHES: { at: number; from: number[]; to: number[] }[] = [
  // mov 0x68(%r13),%r13 -> mov 0x70(%r13),%r13 (utimens dispatcher: second time = mtime)
  { at: 0x436c, from: [0x4d, 0x8b, 0x6d, 0x68], to: [0x4d, 0x8b, 0x6d, 0x70] },
  // if (implemented[op_setxattr]) ops.setxattr = ...  ->  ops.flag_utime_omit_ok = 1
  {
    at: 0x3309,
    from: [0x44, 0x8b, 0x70, 0x44, 0x45, 0x85, 0xf6, 0x74, 0x0e, 0x48, 0x8d, 0x35, 0x47, 0x6c, 0x00, 0x00, 0x48, 0x89, 0xb5, 0xa8, 0xf6, 0xff, 0xff],
    to: [0x80, 0x8d, 0x30, 0xf7, 0xff, 0xff, 0x04, 0xeb, 0x0e, ...new Array(14).fill(0x90)],
  },
];

let loaded: { Fuse: FuseClass; utimensFixed: boolean } | null = null;

// Where the patched copy may live. It is machine code this process loads, so it must sit in a
// directory nobody else can write: owned by us (or root), not group/other-writable, and every
// parent likewise (a sticky parent like /tmp is fine for a child we own). Never under a
// predictable name in a shared place: another user could pre-create it with a library of
// their own (issue 12). Candidates: the install's .cache, then the user's cache directory.
function cacheCandidates(): string[] {
  const out = [join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.cache')];
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) out.push(join(xdg, 'basefs'));
  const home = homedir();
  if (home && isAbsolute(home)) out.push(join(home, '.cache', 'basefs'));
  return out;
}

// Why `path` (a directory or file) could be changed by someone other than us or root, or null.
export function untrustedReason(path: string): string | null {
  const uid = process.getuid?.() ?? 0;
  let p: string;
  try {
    p = realpathSync(path);
  } catch (e) {
    return `${path}: ${(e as Error).message}`;
  }
  for (let cur = p, leaf = true; ; leaf = false) {
    const st = lstatSync(cur);
    if (st.uid !== uid && st.uid !== 0) return `${cur} is owned by uid ${st.uid}`;
    const sticky = (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && (leaf || !sticky || !st.isDirectory())) return `${cur} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`;
    const up = dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
}

// Puts the patched copy under `cache` (created 0700) and returns the directory to point
// node-gyp-build at, or why that place cannot be used.
function installPatched(cache: string, patched: Buffer): { dir: string } | { why: string } {
  const dir = join(cache, 'fuse-native-patched-v2');
  const dest = join(dir, 'prebuilds', 'linux-x64', 'node.napi.node');
  try {
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    const bad = untrustedReason(cache);
    if (bad) return { why: bad };
    mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
    if (!existsSync(dest) || !readFileSync(dest).equals(patched)) writeFileAtomic(dest, patched, 0o700);
    // node-gyp-build loads build/Release first, then whichever prebuild it likes: only ours.
    if (existsSync(join(dir, 'build'))) return { why: `${join(dir, 'build')} exists` };
    const extra = readdirSync(dirname(dest)).filter((f) => f !== 'node.napi.node');
    if (extra.length) return { why: `unexpected files in ${dirname(dest)}: ${extra.join(', ')}` };
    for (const d of [dest, dirname(dest), join(dir, 'prebuilds'), dir]) {
      const why = untrustedReason(d);
      if (why) return { why };
    }
    return { dir };
  } catch (e) {
    return { why: `${cache}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
}

function preparePatchedPrebuild(pkgDir: string): boolean {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  if (process.env.FUSE_NATIVE_PREBUILD) return false; // someone chose a build on purpose
  const orig = join(pkgDir, 'prebuilds', 'linux-x64', 'node.napi.node');
  if (existsSync(join(pkgDir, 'build', 'Release'))) return false; // a local build wins in node-gyp-build
  let bin: Buffer;
  try {
    bin = readFileSync(orig);
  } catch {
    return false;
  }
  if (createHash('sha256').update(bin).digest('hex') !== KNOWN_SHA256) return false;
  const patched = Buffer.from(bin);
  for (const p of PATCHES) {
    if (p.from.length !== p.to.length || !bin.subarray(p.at, p.at + p.from.length).equals(Buffer.from(p.from))) return false;
    Buffer.from(p.to).copy(patched, p.at);
  }
  const tried: string[] = [];
  let dir: string | null = null;
  for (const c of cacheCandidates()) {
    const r = installPatched(c, patched);
    if ('dir' in r) {
      dir = r.dir;
      break;
    }
    tried.push(r.why);
  }
  if (!dir) {
    logger.warn({ tried }, 'fuse-native: no private cache directory for the patched binding; loading it unpatched (utimens then sets mtime approximately, see docs/FUSE.md)');
    return false;
  }
  process.env.FUSE_NATIVE_PREBUILD = dir;
  return true;
}

export function loadFuse(): { Fuse: FuseClass; utimensFixed: boolean } {
  if (loaded) return loaded;
  const req = createRequire(import.meta.url);
  const pkgDir = dirname(req.resolve('fuse-native/package.json'));
  const utimensFixed = preparePatchedPrebuild(pkgDir);
  const Fuse = req('fuse-native') as FuseClass;
  loaded = { Fuse, utimensFixed };
  return loaded;
}
