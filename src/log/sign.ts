import { signBytes, verifyBytes, type KeyPair } from '../crypto/keys.ts';
import { assemble, checkFields, encodeBody } from './codec.ts';
import { compareBytes } from '../crypto/hash.ts';
import { LIMITS, type Entry, type EntryFields, type Kind } from './entry.ts';

export type Draft = Partial<EntryFields> & { kind: Kind; path: string };

// Fills defaults, sorts deps, encodes and signs. Throws on a structurally invalid entry.
export function createEntry(kp: KeyPair, d: Draft): Entry {
  const f: EntryFields = {
    kind: d.kind,
    fsId: d.fsId ?? new Uint8Array(0),
    author: kp.publicKey,
    time: d.time ?? Date.now(),
    deps: [...(d.deps ?? [])].sort(compareBytes),
    path: d.path,
    target: d.target ?? '',
    name: d.name ?? '',
    key: d.key ?? new Uint8Array(0),
    root: d.root ?? new Uint8Array(0),
    size: d.size ?? 0,
    mode: d.mode ?? 0,
    mtime: d.mtime ?? 0,
    owner: d.owner ?? '',
    group: d.group ?? '',
  };
  const err = f.deps.length > LIMITS.maxDeps ? `${f.deps.length} deps exceed the limit of ${LIMITS.maxDeps}` : checkFields(f);
  if (err) throw new Error(`invalid entry: ${err}`);
  const body = encodeBody(f);
  // Never sign what every decoder (this node's on reopen included) would refuse.
  if (body.length + 64 > LIMITS.maxEntryBytes) throw new Error(`invalid entry: ${body.length + 64} bytes exceed ${LIMITS.maxEntryBytes}`);
  return assemble(f, body, signBytes(kp.privateKey, body));
}

export function verifyEntry(e: Entry): boolean {
  return verifyBytes(e.author, e.body, e.sig);
}
