import { lengthError } from '../log/path.ts';
import type { FuseOps } from './native.ts';
import { ENAMETOOLONG } from './errno.ts';

// Which arguments of an operation are paths inside the mount (symlink's first is its target,
// which the kernel already limits to 4095 bytes). Every other operation: its first.
const PATH_ARGS: Record<string, number[]> = { rename: [0, 1], link: [0, 1], symlink: [1], init: [] };

// Every call on a path the log could not record (a name over 255 bytes, a path inside the
// filesystem over 4096, the limits of src/log/path.ts) fails with ENAMETOOLONG at the call.
// The kernel looks every path up first (our getattr), so create, mkdir, mknod, open, unlink,
// rmdir, chmod, truncate, utimens and both ends of a rename meet this before anything is
// buffered or queued; the other handlers check again so no path reaches a commit that cannot
// hold it. `limitsOf` gives the path the limits apply to: the path inside a snapshot
// (`/.snap/LABEL/PATH` -> PATH), or null to check the names only.
export function refuseLongPaths(ops: FuseOps, limitsOf: (p: string) => string | null): FuseOps {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops)) {
    const at = PATH_ARGS[name] ?? [0];
    if (!at.length || typeof fn !== 'function') {
      out[name] = fn;
      continue;
    }
    out[name] = (...args: unknown[]) => {
      for (const i of at) {
        const p = args[i];
        if (typeof p === 'string' && tooLong(p, limitsOf)) {
          (args[args.length - 1] as (e: number) => void)(ENAMETOOLONG);
          return;
        }
      }
      (fn as (...a: unknown[]) => void)(...args);
    };
  }
  return out as unknown as FuseOps;
}

function tooLong(p: string, limitsOf: (p: string) => string | null): boolean {
  if (lengthError(p, 'path', true) !== null) return true; // a name over the limit, anywhere
  if (lengthError(p) === null) return false;
  const inner = limitsOf(p); // a long path: only the part inside the filesystem counts
  return inner !== null && lengthError(inner) !== null;
}
