// Generators of valid and deliberately invalid entries, and an independent statement of the
// structural rules (docs/LOG.md) used as an oracle against the codec.
import fc from 'fast-check';
import { generateKeyPair, type KeyPair } from '../../../src/crypto/keys.ts';
import { sha256 } from '../../../src/crypto/hash.ts';
import { createEntry } from '../../../src/log/sign.ts';
import { Kind, LIMITS, type Entry, type EntryFields } from '../../../src/log/entry.ts';

// String.prototype.isWellFormed (ES2024; the project's lib setting is ES2023).
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

export const KP: KeyPair = generateKeyPair();
export const FSID = sha256(Buffer.from('reliability-fs'));

const nameChars = fc.constantFrom(...'abcxyz019-_.~ é€😀'.split(''), 'ab', '..', '.');
export const nameArb = fc.array(nameChars, { minLength: 1, maxLength: 8 }).map((a) => a.join(''))
  .filter((s) => s !== '.' && s !== '..' && Buffer.byteLength(s) <= 255 && wellFormed(s));
export const pathArb = fc.array(nameArb, { minLength: 1, maxLength: 5 }).map((a) => '/' + a.join('/'));
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
export const depsArb = fc.uniqueArray(hashArb, { minLength: 1, maxLength: 6, selector: (d) => Buffer.from(d).toString('hex') });

// Any valid (structurally) entry of any kind, signed by KP.
export const validEntryArb: fc.Arbitrary<Entry> = fc.record({
  kind: fc.integer({ min: 0, max: 9 }),
  path: pathArb,
  path2: pathArb,
  deps: depsArb,
  time: fc.integer({ min: 0, max: 2 ** 42 }),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  size: fc.integer({ min: 0, max: 2 ** 40 }),
  mtime: fc.integer({ min: 0, max: 2 ** 42 }),
  name: nameArb,
  key: hashArb,
  root: hashArb,
  owner: fc.constantFrom('', 'root', 'bird', '65534', 'www-data', 'é'),
  group: fc.constantFrom('', 'root', 'nogroup', '0', 'staff'),
}).map((r) => {
  const k = r.kind as Kind;
  const boot = k === Kind.BOOTSTRAP;
  const slash = boot || k === Kind.SNAPSHOT;
  let target = '';
  let path = slash ? '/' : r.path;
  if (k === Kind.RENAME) {
    target = r.path2;
    if (target === path || target.startsWith(path + '/')) target = path + '~r'; // a sibling
  } else if (k === Kind.SYMLINK) target = r.path2.slice(1) || 'x';
  if (k === Kind.GRANT || k === Kind.REVOKE) path = r.path.length % 3 === 0 ? '/' : path;
  return createEntry(KP, {
    kind: k, path, target, fsId: boot ? undefined : FSID, deps: boot ? [] : r.deps, time: r.time,
    name: slash ? r.name : '', mode: r.mode, mtime: r.mtime,
    size: k === Kind.WRITE ? r.size : 0,
    root: k === Kind.WRITE ? r.root : undefined,
    key: k === Kind.GRANT || k === Kind.REVOKE ? r.key : undefined,
    owner: ownerKinds.has(k) ? r.owner : '',
    group: ownerKinds.has(k) ? r.group : '',
  });
});
const ownerKinds = new Set<number>([Kind.WRITE, Kind.MKDIR, Kind.SYMLINK, Kind.SETATTR]);
const evilOwner = fc.oneof(fc.constantFrom('', 'bird', '1000', '01', '4294967295', '4294967294', 'a b', 'a:b', 'a/b', 'a\nb', '\0', 'x'.repeat(255), 'x'.repeat(256), 'é'.repeat(128)), fc.string({ maxLength: 6 }));

// Raw fields, most of them wrong in some way: what an attacker can put on the wire with a
// valid signature of its own.
const evilName = fc.oneof(
  nameArb,
  fc.constantFrom('..', '.', '', 'a\0b', '\0', 'x'.repeat(256), 'é'.repeat(128), '\uD800', 'a/b'),
  fc.string({ maxLength: 12 }),
);
export const evilPathArb = fc.oneof(
  { weight: 3, arbitrary: pathArb },
  { weight: 4, arbitrary: fc.array(evilName, { minLength: 0, maxLength: 4 }).map((a) => '/' + a.join('/')) },
  { weight: 1, arbitrary: fc.constantFrom('', 'relative', '/', '//', '/a/', '/a//b', '/../etc/passwd', '/a/../../b', '/a/./b', '/a\0/b', '/' + 'y/'.repeat(2100) + 'y', '/' + 'z'.repeat(255), '/' + 'z'.repeat(256)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
// A valid entry's fields with 0-2 fields replaced by attacker-chosen values: each rule is
// exercised on its own, next to otherwise valid entries (0 changes = must decode).
const fieldArb = fc.oneof(
  fc.record({ f: fc.constant('kind'), v: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 255 })) }),
  fc.record({ f: fc.constant('fsId'), v: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 33 }), fc.uint8Array({ minLength: 32, maxLength: 32 })) }),
  fc.record({ f: fc.constant('time'), v: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)) }),
  fc.record({ f: fc.constant('deps'), v: fc.oneof(
    fc.constant([] as Uint8Array[]),
    fc.array(hashArb, { minLength: 2, maxLength: 6 }), // unsorted or duplicate most of the time
    hashArb.map((h) => [h, h]),
    fc.integer({ min: 250, max: 300 }).map((n) => Array.from({ length: n }, (_, i) => sha256(Buffer.from([i & 255, i >> 8]))).sort(Buffer.compare)),
  ) }),
  fc.record({ f: fc.constant('path'), v: evilPathArb }),
  fc.record({ f: fc.constant('target'), v: fc.oneof(fc.constant(''), evilPathArb, fc.string({ maxLength: 8 }), fc.constant('x'.repeat(4097))) }),
  fc.record({ f: fc.constant('name'), v: fc.oneof(fc.constant(''), evilName) }),
  fc.record({ f: fc.constant('key'), v: fc.uint8Array({ maxLength: 33 }) }),
  fc.record({ f: fc.constant('root'), v: fc.uint8Array({ maxLength: 33 }) }),
  fc.record({ f: fc.constant('size'), v: fc.oneof(fc.constant(0), fc.nat()) }),
  fc.record({ f: fc.constant('mode'), v: fc.oneof(fc.integer({ min: 0, max: 0o7777 }), fc.nat()) }),
  fc.record({ f: fc.constant('owner'), v: evilOwner }),
  fc.record({ f: fc.constant('group'), v: evilOwner }),
);
export const rawFieldsArb: fc.Arbitrary<EntryFields> = fc.tuple(validEntryArb, fc.array(fieldArb, { maxLength: 2 })).map(([e, changes]) => {
  const f: EntryFields = { kind: e.kind, fsId: e.fsId, author: e.author, time: e.time, deps: e.deps, path: e.path, target: e.target, name: e.name, key: e.key, root: e.root, size: e.size, mode: e.mode, mtime: e.mtime, owner: e.owner, group: e.group };
  for (const c of changes) (f as unknown as Record<string, unknown>)[c.f] = c.v;
  return f;
});

// The structural rules, written independently of src/log (docs/LOG.md "Limits" and codec
// rules). Returns null when an entry with these fields must decode.
export function oracle(f: EntryFields): string | null {
  const wellFormedPath = (p: string): boolean => {
    if (!p.startsWith('/') || Buffer.byteLength(p) > LIMITS.maxPathBytes || p.includes('\0')) return false;
    if (!wellFormed(p)) return false;
    if (p === '/') return true;
    return p.slice(1).split('/').every((c) => c !== '' && c !== '.' && c !== '..' && Buffer.byteLength(c) <= LIMITS.maxNameBytes);
  };
  if (f.kind > 9) return 'kind';
  const boot = f.kind === Kind.BOOTSTRAP;
  if (boot ? f.fsId.length !== 0 : f.fsId.length !== 32) return 'fsId';
  if (f.deps.length > LIMITS.maxDeps) return 'deps count';
  if (boot !== (f.deps.length === 0)) return 'deps presence';
  for (let i = 1; i < f.deps.length; i++) if (Buffer.compare(f.deps[i - 1], f.deps[i]) >= 0) return 'deps order';
  if (!wellFormedPath(f.path)) return 'path';
  if (!wellFormed(f.target) || !wellFormed(f.name)) return 'utf8';
  if (Buffer.byteLength(f.target) > LIMITS.maxTargetBytes || Buffer.byteLength(f.name) > LIMITS.maxNameBytes) return 'length';
  const grantish = f.kind === Kind.GRANT || f.kind === Kind.REVOKE;
  if (f.key.length !== (grantish ? 32 : 0)) return 'key';
  if (f.root.length !== (f.kind === Kind.WRITE ? 32 : 0)) return 'root';
  if (f.kind !== Kind.WRITE && f.size !== 0) return 'size';
  if (f.kind === Kind.RENAME) {
    if (!wellFormedPath(f.target) || f.path === '/' || f.target === '/' || f.target === f.path || f.target.startsWith(f.path + '/')) return 'rename';
  } else if (f.kind === Kind.SYMLINK) {
    if (f.target === '' || f.target.includes('\0')) return 'symlink';
  } else if (f.target !== '') return 'target';
  const named = boot || f.kind === Kind.SNAPSHOT;
  if (named !== (f.name !== '')) return 'name';
  if (named && f.path !== '/') return 'named path';
  if ((f.kind === Kind.WRITE || f.kind === Kind.DELETE || f.kind === Kind.SYMLINK || f.kind === Kind.MKDIR) && f.path === '/') return 'root';
  if (f.mode > 0o7777) return 'mode';
  // owner/group: '' or a name (no controls, space, ':' or '/'; <= 255 bytes) or a canonical
  // decimal id below 2^32-1; only on the kinds that give a path its attributes
  for (const o of [f.owner, f.group]) {
    if (o === '') continue;
    if (!ownerKinds.has(f.kind)) return 'owner kind';
    if (!wellFormed(o) || Buffer.byteLength(o) > 255) return 'owner length';
    if ([...o].every((c) => c >= '0' && c <= '9')) {
      if ((o.length > 1 && o[0] === '0') || Number(o) >= 2 ** 32 - 1) return 'owner id';
    } else if ([...o].some((c) => c.charCodeAt(0) <= 32 || c.charCodeAt(0) === 127 || c === ':' || c === '/')) return 'owner chars';
  }
  return null;
}
