import { ByteReader, ByteWriter } from './bytes.ts';
import { sha256, toHex, compareBytes } from '../crypto/hash.ts';
import { Kind, LIMITS, hasOwner, type Entry, type EntryFields } from './entry.ts';
import { checkPath } from './path.ts';

// Canonical binary encoding. Layout (all integers unsigned LEB128, minimal):
//   u8 version=1 | u8 kind | bytes fsId | 32B author | uint time | uint n, n*32B deps |
//   str path | str target | str name | bytes key | bytes root | uint size | uint mode | uint mtime
//   then 64B signature over everything before it.
// Version 2 is the same with version=2 and `str owner | str group` after mtime; it is used
// exactly when owner or group is set, so every entry without them (all logs written before
// owners existed) keeps its version-1 bytes and id.
// "bytes"/"str" = uint length + raw bytes. Decoding re-encodes and compares, so exactly one
// byte string exists per entry: the same entry always has the same id.
export const VERSION = 1;
export const VERSION_OWNERS = 2;

export class DecodeError extends Error {}

function reader(buf: Uint8Array): ByteReader {
  return new ByteReader(buf, (m) => new DecodeError(m), 'entry');
}

export function encodeBody(f: EntryFields): Uint8Array {
  const w = new ByteWriter(200 + f.deps.length * 32 + f.path.length * 3);
  writeBody(w, f);
  return w.done();
}

function writeBody(w: ByteWriter, f: EntryFields): void {
  const owners = f.owner !== '' || f.group !== '';
  w.u8(owners ? VERSION_OWNERS : VERSION);
  w.u8(f.kind);
  w.bytes(f.fsId);
  w.raw(f.author);
  w.uint(f.time);
  w.uint(f.deps.length);
  for (const d of f.deps) w.raw(d);
  w.str(f.path);
  w.str(f.target);
  w.str(f.name);
  w.bytes(f.key);
  w.bytes(f.root);
  w.uint(f.size);
  w.uint(f.mode);
  w.uint(f.mtime);
  if (owners) w.str(f.owner).str(f.group);
}

function decodeFields(body: Uint8Array): EntryFields {
  const r = reader(body);
  const version = r.u8();
  if (version !== VERSION && version !== VERSION_OWNERS) throw new DecodeError(`unknown entry version ${version}`);
  const kind = r.u8();
  if (kind > Kind.SNAPSHOT) throw new DecodeError(`unknown entry kind ${kind}`);
  const fsId = r.bytes(32);
  const author = r.raw(32);
  const time = r.uint();
  const ndeps = r.uint();
  if (ndeps > LIMITS.maxDeps) throw new DecodeError(`${ndeps} deps exceed the limit of ${LIMITS.maxDeps}`);
  const deps: Uint8Array[] = [];
  for (let i = 0; i < ndeps; i++) deps.push(r.raw(32));
  const path = r.str(LIMITS.maxPathBytes);
  const target = r.str(LIMITS.maxTargetBytes);
  const name = r.str(LIMITS.maxNameBytes);
  const key = r.bytes(32);
  const root = r.bytes(32);
  const size = r.uint();
  const mode = r.uint();
  const mtime = r.uint();
  const owner = version === VERSION_OWNERS ? r.str(LIMITS.maxOwnerBytes) : '';
  const group = version === VERSION_OWNERS ? r.str(LIMITS.maxOwnerBytes) : '';
  r.end();
  return { kind: kind as Kind, fsId, author, time, deps, path, target, name, key, root, size, mode, mtime, owner, group };
}

// Structural rules that do not need any other entry.
export function checkFields(f: EntryFields): string | null {
  const boot = f.kind === Kind.BOOTSTRAP;
  if (boot ? f.fsId.length !== 0 : f.fsId.length !== 32) return 'bad filesystem id length';
  if (f.author.length !== 32) return 'bad author key length';
  if (boot && f.deps.length !== 0) return 'bootstrap entry has deps';
  if (!boot && f.deps.length === 0) return 'entry has no deps';
  for (let i = 1; i < f.deps.length; i++) if (compareBytes(f.deps[i - 1], f.deps[i]) >= 0) return 'deps not sorted and unique';
  const pe = checkPath(f.path);
  if (pe) return pe;
  if (f.key.length !== 0 && f.key.length !== 32) return 'bad key length';
  if (f.root.length !== 0 && f.root.length !== 32) return 'bad content root length';
  const needKey = f.kind === Kind.GRANT || f.kind === Kind.REVOKE;
  if (needKey !== (f.key.length === 32)) return 'key field present on wrong kind';
  if ((f.kind === Kind.WRITE) !== (f.root.length === 32)) return 'content root present on wrong kind';
  if (f.kind !== Kind.WRITE && f.size !== 0) return 'size on non-WRITE entry';
  if (f.kind === Kind.RENAME) {
    const te = checkPath(f.target, 'rename target');
    if (te) return te;
    if (f.path === '/' || f.target === '/') return 'cannot rename the root';
    if (f.target === f.path || f.target.startsWith(f.path + '/')) return 'cannot rename a directory into itself';
  } else if (f.kind === Kind.SYMLINK) {
    if (f.target.length === 0 || f.target.includes('\0')) return 'bad symlink target';
  } else if (f.target.length !== 0) return 'target on wrong kind';
  if ((f.kind === Kind.BOOTSTRAP || f.kind === Kind.SNAPSHOT) !== (f.name.length > 0)) return 'name on wrong kind';
  if ((f.kind === Kind.BOOTSTRAP || f.kind === Kind.SNAPSHOT) && f.path !== '/') return 'bootstrap/snapshot path must be /';
  if ((f.kind === Kind.WRITE || f.kind === Kind.DELETE || f.kind === Kind.SYMLINK || f.kind === Kind.MKDIR) && f.path === '/' ) return 'cannot replace the root directory';
  if (f.mode > 0o7777) return 'bad mode';
  if ((f.owner !== '' || f.group !== '') && !hasOwner(f.kind)) return 'owner or group on wrong kind';
  return ownerError(f.owner, 'owner') ?? ownerError(f.group, 'group');
}

// An owner/group is '' (not recorded), a decimal id (canonical, below 2^32-1: one that had no
// name) or a name: no control characters, spaces, ':' or '/', at most 255 bytes.
export function ownerError(s: string, what: string): string | null {
  if (s === '') return null;
  if (Buffer.byteLength(s) > LIMITS.maxOwnerBytes) return `${what} longer than ${LIMITS.maxOwnerBytes} bytes`;
  if (/^[0-9]+$/.test(s)) return /^(0|[1-9][0-9]*)$/.test(s) && Number(s) < 0xffffffff ? null : `bad numeric ${what} ${s}`;
  if (/[\x00-\x20\x7f:/]/.test(s)) return `bad ${what} name`;
  return null;
}

// Decodes stored or received bytes. Does not verify the signature (see sign.ts).
// Scratch writer for the canonical check: decoding is hot on reopen, so avoid per-entry buffers.
const scratch = new ByteWriter(4096);

function isCanonical(f: EntryFields, body: Uint8Array): boolean {
  scratch.pos = 0;
  writeBody(scratch, f);
  return scratch.pos === body.length && Buffer.compare(scratch.buf.subarray(0, scratch.pos), body) === 0;
}

// Decodes stored or received bytes. Does not verify the signature (see sign.ts). Every field
// is a view into one private copy of the input (`owned`: the caller hands over `bytes`).
export function decodeEntry(bytes: Uint8Array, owned = false): Entry {
  if (bytes.length > LIMITS.maxEntryBytes) throw new DecodeError(`entry of ${bytes.length} bytes exceeds ${LIMITS.maxEntryBytes}`);
  if (bytes.length < 64 + 36) throw new DecodeError('truncated entry');
  const copy = owned ? bytes : new Uint8Array(bytes);
  const body = copy.subarray(0, copy.length - 64);
  const f = decodeFields(body);
  if (!isCanonical(f, body)) throw new DecodeError('non-canonical encoding');
  const err = checkFields(f);
  if (err) throw new DecodeError(err);
  const id = sha256(copy);
  return { ...f, id, idHex: toHex(id), sig: copy.subarray(copy.length - 64), body, bytes: copy };
}

export function assemble(f: EntryFields, body: Uint8Array, sig: Uint8Array): Entry {
  const bytes = new Uint8Array(body.length + 64);
  bytes.set(body);
  bytes.set(sig, body.length);
  const id = sha256(bytes);
  return { ...f, id, idHex: toHex(id), sig: bytes.subarray(body.length), body: bytes.subarray(0, body.length), bytes };
}
