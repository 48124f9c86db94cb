import { constants } from 'node:os';
import { logger } from '../node/logger.ts';

// Negative errno values as FUSE wants them, from any error a handler may meet.
const E = constants.errno as Record<string, number>;

export const ENOENT = -E.ENOENT;
export const EEXIST = -E.EEXIST;
export const ENOTDIR = -E.ENOTDIR;
export const EISDIR = -E.EISDIR;
export const ENOTEMPTY = -E.ENOTEMPTY;
export const EACCES = -E.EACCES;
export const EPERM = -E.EPERM;
export const EIO = -E.EIO;
export const EINVAL = -E.EINVAL;
export const EROFS = -E.EROFS;
export const EBADF = -E.EBADF;
export const EXDEV = -E.EXDEV;
export const ENOSYS = -E.ENOSYS;
export const ENAMETOOLONG = -E.ENAMETOOLONG;
export const ENOTSUP = -E.ENOTSUP;
export const EFBIG = -E.EFBIG;
export const ENOSPC = -E.ENOSPC;

// A handler-side error that already knows its errno.
export class FsError extends Error {
  errno: number;
  constructor(errno: number, message = '') {
    super(message || `errno ${errno}`);
    this.errno = errno;
  }
}

export function fail(errno: number, message = ''): never {
  throw new FsError(errno, message);
}

// UserError / AuthorityError codes ('ENOENT', 'EACCES', ...) map one to one; the content
// layer's missing/corrupt chunk errors are EIO (the read cannot be served now); path syntax
// errors from normalizePath are EINVAL or ENAMETOOLONG; anything else is logged and EIO.
export function toErrno(e: unknown, op = '', path = ''): number {
  if (e instanceof FsError) return e.errno;
  const err = e as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  if (code && code !== 'EUSER' && typeof E[code] === 'number') {
    if (code === 'EIO' || code === 'ENOSPC') logger.warn({ op, path, err: String(err.message) }, 'fuse op failed');
    return -E[code];
  }
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  if (err?.name === 'MissingChunksError' || err?.name === 'CorruptChunkError') {
    logger.warn({ op, path, err: msg }, 'content not readable');
    return EIO;
  }
  if (/longer than \d+ bytes/.test(msg)) return ENAMETOOLONG;
  if (code === 'EUSER' || /^path |must be absolute|empty component|contains a NUL|not valid Unicode|may not contain/.test(msg)) {
    logger.info({ op, path, err: msg }, 'fuse op refused');
    return EINVAL;
  }
  logger.warn({ op, path, err: msg, stack: (e as Error)?.stack }, 'fuse op failed');
  return EIO;
}
