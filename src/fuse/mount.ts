import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Filesystem } from '../node/filesystem.ts';
import { UserError } from '../errors/errors.ts';
import { logger } from '../node/logger.ts';
import { loadFuse, type FuseInstance } from './native.ts';
import { FuseFs } from './ops.ts';
import { contentIO } from './content.ts';

// Kernel cache lifetimes (seconds). Local changes go through the kernel, so they are always
// seen at once; these bound how long a change from another node can stay invisible to a
// process that already looked the path up. Overridable with BASEFS_FUSE_ATTR_TIMEOUT.
const ATTR_TIMEOUT = Number(process.env.BASEFS_FUSE_ATTR_TIMEOUT ?? 1);
const MOUNT_TIMEOUT_MS = 30_000;

export interface MountInfo {
  mountpoint: string;
  fstype: string;
  source: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

// The mount table entry for DIR, if DIR is a mount point.
export function mountAt(dir: string): MountInfo | null {
  const abs = resolve(dir);
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  let found: MountInfo | null = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || f.length < sep + 3) continue;
    const mp = unescapeMount(f[4]);
    if (mp === abs) found = { mountpoint: mp, fstype: f[sep + 1], source: unescapeMount(f[sep + 2]) }; // last one wins (stacked mounts)
  }
  return found;
}

// Probes a mount point from a child process, so a hung FUSE server cannot hang us.
export function probeMount(dir: string, timeoutMs = 5000): 'ok' | 'stale' | 'hung' | 'error' {
  const r = spawnSync('stat', ['-c', '%i', dir], { timeout: timeoutMs, encoding: 'utf8', killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return 'hung';
  if (r.status === 0) return 'ok';
  if (/not connected|Transport endpoint|Software caused connection abort/i.test(r.stderr ?? '')) return 'stale';
  return 'error';
}

// fusermount -uz, falling back to umount -l; true when DIR is no longer a mount point.
export function lazyUnmount(dir: string): boolean {
  for (const [cmd, args] of [['fusermount', ['-uz', dir]], ['umount', ['-l', dir]]] as const) {
    const r = spawnSync(cmd, args, { timeout: 10_000, stdio: 'ignore' });
    if (r.status === 0 && !mountAt(dir)) return true;
  }
  return !mountAt(dir);
}

// Before mounting: a stale FUSE mount left by a crashed node ("Transport endpoint is not
// connected") or one whose server hangs is detached; a live mount is an error.
export function prepareMountpoint(dir: string): void {
  const abs = resolve(dir);
  const mi = mountAt(abs);
  if (mi) {
    const p = probeMount(abs);
    if (p === 'ok') throw new UserError(`${abs} is already mounted (${mi.source}, ${mi.fstype}); unmount it first (basefs unmount NAME or fusermount -u ${abs})`, 'EBUSY');
    if (!mi.fstype.startsWith('fuse')) throw new UserError(`${abs} is a ${mi.fstype} mount point that does not answer; unmount it first`, 'EBUSY');
    logger.warn({ dir: abs, state: p }, 'detaching a stale FUSE mount left by a crashed node');
    if (!lazyUnmount(abs)) throw new UserError(`${abs} holds a stale FUSE mount that could not be detached; run: fusermount -uz ${abs}`, 'EBUSY');
  } else if (probeMount(abs) === 'stale') {
    // a stale mount seen through another mount namespace's table: try anyway
    lazyUnmount(abs);
  }
  if (!existsSync(abs)) mkdirSync(abs, { recursive: true });
  const st = statSync(abs);
  if (!st.isDirectory()) throw new UserError(`${abs} is not a directory`, 'ENOTDIR');
  if (readdirSync(abs).length > 0) throw new UserError(`${abs} is not empty; mount on an empty directory`, 'ENOTEMPTY');
}

export interface Mounted {
  dir: string;
  ops: FuseFs;
  utimensFixed: boolean;
  unmount(): Promise<void>;
}

// Mounts FS at DIR in this process. unmount() commits open files, detaches the mount and
// drops the write buffers; it is idempotent.
// allowOther: other local users may use the mount; the kernel then checks every access against
// the modes and owner getattr shows (default_permissions), as on a local filesystem.
export async function mountFilesystem(fs: Filesystem, dir: string, o: { debug?: boolean; allowOther?: boolean; fetch?: (root: Uint8Array) => void } = {}): Promise<Mounted> {
  const abs = resolve(dir);
  prepareMountpoint(abs);
  const { Fuse, utimensFixed } = loadFuse();
  const ops = new FuseFs(fs, contentIO(fs.content, { fetch: o.fetch }), { utimensFixed, allowOther: !!o.allowOther });
  const t = String(ATTR_TIMEOUT);
  // fuse-native only knows a fixed list of -o options and skips zero values; the extra ones
  // ride along in fsname (it is joined into one comma-separated -o string).
  const extra = ['big_writes', 'max_write=131072', `attr_timeout=${t}`, `entry_timeout=${t}`, 'negative_timeout=0'];
  const fuse: FuseInstance = new Fuse(abs, ops.ops(), {
    fsname: [`basefs:${fs.name}`, ...extra].join(','),
    subtype: 'basefs',
    debug: !!o.debug,
    allowOther: !!o.allowOther,
    defaultPermissions: !!o.allowOther,
    force: false,
    mkdir: false,
    // a handler that never answers would hang the caller in the kernel: fuse-native answers
    // ETIMEDOUT after this long. Commits of big files (flush/release/fsync) get long limits.
    timeout: { default: 120_000, getattr: 30_000, readdir: 60_000, statfs: 30_000, access: 30_000, flush: 1_800_000, release: 1_800_000, fsync: 1_800_000, write: 1_800_000, read: 600_000, open: 1_800_000, truncate: 1_800_000, ftruncate: 1_800_000, rename: 1_800_000 },
  });
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new UserError(`mounting ${abs} did not finish within ${MOUNT_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')), MOUNT_TIMEOUT_MS);
    fuse.mount((err) => {
      clearTimeout(timer);
      if (err) rej(new UserError(`cannot mount ${abs}: ${err.message}${/fuse/i.test(err.message) ? ' (is /dev/fuse there and fusermount installed?)' : ''}`, 'EIO'));
      else res();
    });
  }).catch(async (e) => {
    await ops.close().catch(() => {});
    if (mountAt(abs)) lazyUnmount(abs);
    throw e;
  });
  let done: Promise<void> | null = null;
  const unmount = (): Promise<void> => {
    done ??= (async () => {
      await ops.flushAll();
      await new Promise<void>((res) => {
        const timer = setTimeout(() => {
          logger.warn({ dir: abs }, 'fuse unmount did not return; detaching');
          res();
        }, 15_000);
        fuse.unmount((err) => {
          clearTimeout(timer);
          if (err) logger.warn({ dir: abs, err: err.message }, 'fuse unmount failed; detaching');
          res();
        });
      });
      if (mountAt(abs)) lazyUnmount(abs);
      await ops.close();
    })();
    return done;
  };
  return { dir: abs, ops, utimensFixed, unmount };
}
