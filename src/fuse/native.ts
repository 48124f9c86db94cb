import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Loading fuse-native 2.2.6. scripts/build-fuse-native.sh (run by setup) builds its binding
// from the package's own C source with patches/fuse-native.patch into
// .toolchain/fuse-native/, which we point node-gyp-build at through its documented
// FUSE_NATIVE_PREBUILD override. The patch fixes utimens (the dispatcher passed atime twice,
// and libfuse dropped every utimensat() that does not set both times) and exports
// `basefs_patch`, which is how we know the loaded binding has the fix. Without that build (no
// compiler at setup, or FUSE_NATIVE_PREBUILD chosen by the user) the package's prebuilt binary
// loads unpatched and utimens falls back to "mtime = the time we were given" (docs/FUSE.md).

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

export interface LoadedFuse {
  Fuse: FuseClass;
  utimensFixed: boolean; // the binding passes the real mtime and UTIME_NOW/UTIME_OMIT
  binding: string; // the .node file that was loaded
}

const BUILT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.toolchain', 'fuse-native');

let loaded: LoadedFuse | null = null;

export function loadFuse(): LoadedFuse {
  if (loaded) return loaded;
  const req = createRequire(import.meta.url);
  const pkgDir = dirname(req.resolve('fuse-native/package.json'));
  // A build chosen on purpose (the variable already set) wins. node-gyp-build then looks only
  // in the variable's directory, so it is set only when our build is there.
  if (!process.env.FUSE_NATIVE_PREBUILD && existsSync(join(BUILT, 'build', 'Release', 'fuse.node'))) {
    process.env.FUSE_NATIVE_PREBUILD = BUILT;
  }
  const Fuse = req('fuse-native') as FuseClass;
  // The same resolution fuse-native's index.js made, so the same (cached) module.
  const gypBuild = createRequire(join(pkgDir, 'index.js'))('node-gyp-build') as { path(dir: string): string };
  const binding = gypBuild.path(pkgDir);
  const exported = createRequire(join(pkgDir, 'index.js'))(binding) as { basefs_patch?: number };
  loaded = { Fuse, utimensFixed: exported.basefs_patch === 1, binding };
  return loaded;
}
