// The signed operation that is the unit of the log. Field meaning per kind:
//   BOOTSTRAP  path '/', name = filesystem name, fsId empty (its own id becomes the fsId)
//   MKDIR      path, mode, owner, group
//   WRITE      path, root (content Merkle root), size, mode, mtime, owner, group
//   DELETE     path (file, symlink or directory subtree)
//   RENAME     path (source), target (destination path)
//   SYMLINK    path, target (link text), owner, group
//   SETATTR    path, mode, mtime, owner, group (CHMOD/UTIMES/CHOWN in one)
// owner/group: a user/group name (as tar records them), a decimal id for one that had no name
// where it was set, or '' = not recorded (each node shows its fallback; see docs/FUSE.md).
//   GRANT      path, key (subject public key)
//   REVOKE     path, key (subject public key)
//   SNAPSHOT   path '/', name = label; deps = the heads at that moment
export const Kind = {
  BOOTSTRAP: 0,
  MKDIR: 1,
  WRITE: 2,
  DELETE: 3,
  RENAME: 4,
  SYMLINK: 5,
  SETATTR: 6,
  GRANT: 7,
  REVOKE: 8,
  SNAPSHOT: 9,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
export const KIND_NAMES = ['BOOTSTRAP', 'MKDIR', 'WRITE', 'DELETE', 'RENAME', 'SYMLINK', 'SETATTR', 'GRANT', 'REVOKE', 'SNAPSHOT'] as const;

export interface EntryFields {
  kind: Kind;
  fsId: Uint8Array; // 32 bytes; empty for BOOTSTRAP
  author: Uint8Array; // 32-byte Ed25519 public key
  time: number; // ms since epoch
  deps: Uint8Array[]; // sorted ascending, unique, 32 bytes each
  path: string;
  target: string;
  name: string;
  key: Uint8Array; // empty or 32 bytes
  root: Uint8Array; // empty or 32 bytes
  size: number;
  mode: number;
  mtime: number;
  owner: string;
  group: string;
}

export interface Entry extends EntryFields {
  id: Uint8Array; // SHA-256 of bytes
  idHex: string;
  sig: Uint8Array; // 64 bytes, over body
  body: Uint8Array; // canonical encoding without the signature
  bytes: Uint8Array; // body || sig: what is stored and sent
}

// Limits that bound memory for any input (documented in docs/LOG.md).
export const LIMITS = {
  maxEntryBytes: 16 * 1024,
  maxDeps: 256,
  maxPathBytes: 4096,
  maxNameBytes: 255,
  maxTargetBytes: 4096,
  maxOwnerBytes: 255,
  maxFutureSkewMs: 10 * 60 * 1000,
};

export function kindName(k: number): string {
  return KIND_NAMES[k] ?? `KIND${k}`;
}

// Kinds that carry owner and group (the ones that give a path its attributes).
export function hasOwner(k: number): boolean {
  return k === Kind.WRITE || k === Kind.MKDIR || k === Kind.SYMLINK || k === Kind.SETATTR;
}
