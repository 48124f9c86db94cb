import { LIMITS } from './entry.ts';

// The byte limits alone: the whole path at most LIMITS.maxPathBytes, each name at most
// LIMITS.maxNameBytes. Null when within them. The mount refuses a path over them at the call
// (ENAMETOOLONG), with these same limits, so nothing it accepts can fail to commit for its
// name. Cheap for short paths (every lookup in the mount calls it).
export function lengthError(p: string, what = 'path', namesOnly = false): string | null {
  // a UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair: 2 units, 4 bytes)
  if (p.length * 3 <= LIMITS.maxNameBytes) return null;
  if (!namesOnly && Buffer.byteLength(p) > LIMITS.maxPathBytes) return `${what} is longer than ${LIMITS.maxPathBytes} bytes`;
  let start = 0;
  while (start <= p.length) {
    let end = p.indexOf('/', start);
    if (end < 0) end = p.length;
    if ((end - start) * 3 > LIMITS.maxNameBytes && Buffer.byteLength(p.slice(start, end)) > LIMITS.maxNameBytes) {
      return `${what} has a name longer than ${LIMITS.maxNameBytes} bytes`;
    }
    start = end + 1;
  }
  return null;
}

// Canonical paths: absolute, '/'-separated, no empty, '.' or '..' components, no NUL,
// no trailing slash (except '/'), valid UTF-8 within the byte limits.
export function checkPath(p: string, what = 'path'): string | null {
  if (typeof p !== 'string' || !p.startsWith('/')) return `${what} must be absolute (start with /): ${JSON.stringify(p)}`;
  const long = lengthError(p, what);
  if (long) return long;
  if (p.includes('\0')) return `${what} contains a NUL byte`;
  if (p === '/') return null;
  if (p.endsWith('/')) return `${what} ends with /: ${JSON.stringify(p)}`;
  for (const c of p.slice(1).split('/')) {
    if (c === '') return `${what} has an empty component: ${JSON.stringify(p)}`;
    if (c === '.' || c === '..') return `${what} contains "${c}": ${JSON.stringify(p)}`;
  }
  if (p.isWellFormed && !p.isWellFormed()) return `${what} is not valid Unicode`;
  return null;
}

// Turns user input ("a/b", "/a//b/", "/a/./b") into a canonical path or throws.
export function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new Error(`path may not contain "..": ${p}`);
    parts.push(c);
  }
  const out = '/' + parts.join('/');
  const err = checkPath(out);
  if (err) throw new Error(err);
  return out;
}

export function parentOf(p: string): string {
  if (p === '/') return '/';
  const i = p.lastIndexOf('/');
  return i === 0 ? '/' : p.slice(0, i);
}

export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name;
}

// True when `p` is `prefix` or lies below it.
export function isUnder(p: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return p === prefix || p.startsWith(prefix + '/');
}

// Depth of a path: '/' = 0, '/a' = 1, '/a/b' = 2. This is the rank of a grant at that path.
export function depth(p: string): number {
  if (p === '/') return 0;
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}

// '/a/b' -> ['/', '/a', '/a/b']
export function ancestorsAndSelf(p: string): string[] {
  const out = ['/'];
  if (p === '/') return out;
  let i = 0;
  while ((i = p.indexOf('/', i + 1)) !== -1) out.push(p.slice(0, i));
  out.push(p);
  return out;
}
