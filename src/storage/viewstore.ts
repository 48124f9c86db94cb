import { hash as oneShotHash } from 'node:crypto';
import type { ClassicLevel } from 'classic-level';
import { fromHex, toHex } from '../crypto/hash.ts';
import type { Inode } from '../view/state.ts';
import { UserError } from '../errors/errors.ts';

// The persistent materialized view: what the view says about each live path, kept in the log
// store next to the entries and written in the same synced batch as the entries it reflects
// (see Filesystem.appendDurable), so that a reader can answer lookups and listings without
// replaying the log. Keys (all under v!, beside LogStore's s!/i!/p!/q!/m!):
//   v!n!<path>              -> checksum(8) + JSON of the path's inode
//   v!d!<parent>\0<name>    -> checksum(8) + JSON of the child's inode (a listing with attributes, as
//                              ls -l or readdir+stat want it, is one range scan)
//   v!m!format, v!m!heads, v!m!digest, v!m!entries
// The checksum is SHA-256 over key and value, so a damaged value, or a damaged key (a record
// that now sits under another path), is noticed when read instead of being served.
// docs/LOG.md "Stored view" has the design, crash consistency and migration.
export const VIEW_FORMAT = '1';
type DB = ClassicLevel<string, Uint8Array>;
export type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export const NODE = 'v!n!';
export const DIR = 'v!d!';
const META = 'v!m!';

export interface ViewMeta {
  format: string;
  heads: string; // hex of the concatenated head ids the view reflects
  digest: string;
  entries: number;
}

function sum8(key: string, body: Uint8Array): Buffer {
  return oneShotHash('sha256', Buffer.concat([Buffer.from(key), Buffer.from([0]), body]), 'buffer').subarray(0, 8);
}

function encodeInode(n: Inode): Uint8Array {
  return Buffer.from(JSON.stringify([n.type, n.mode, n.mtime, n.size, n.root ? toHex(n.root) : '', n.target, n.entryId, n.author ? toHex(n.author) : '', n.contentId, n.attrId, n.owner, n.group]));
}

function decodeInode(path: string, body: Uint8Array): Inode {
  const [type, mode, mtime, size, root, target, entryId, author, contentId, attrId, owner = '', group = ''] = JSON.parse(Buffer.from(body).toString());
  return Object.freeze({ path, type, mode, mtime, size, root: root ? fromHex(root) : null, target, entryId, author: author ? fromHex(author) : null, contentId, attrId, owner, group });
}

export function nodeRecord(n: Inode): { type: 'put'; key: string; value: Uint8Array } {
  const key = NODE + n.path;
  const body = encodeInode(n);
  return { type: 'put', key, value: Buffer.concat([sum8(key, body), body]) };
}

export function dirRecord(parent: string, name: string, n: Inode): { type: 'put'; key: string; value: Uint8Array } {
  const key = DIR + parent + '\0' + name;
  const body = encodeInode(n);
  return { type: 'put', key, value: Buffer.concat([sum8(key, body), body]) };
}

function parentAndName(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  return [i === 0 ? '/' : path.slice(0, i), path.slice(i + 1)];
}

// The records that bring the stored view of `path` to `inode` (null: the path is gone).
export function pathOps(path: string, inode: Inode | null): Op[] {
  const [parent, name] = parentAndName(path);
  if (!inode) return path === '/' ? [{ type: 'del', key: NODE + path }] : [{ type: 'del', key: NODE + path }, { type: 'del', key: DIR + parent + '\0' + name }];
  return path === '/' ? [nodeRecord(inode)] : [nodeRecord(inode), dirRecord(parent, name, inode)];
}

export function metaOps(m: ViewMeta): Op[] {
  return [
    { type: 'put', key: META + 'format', value: Buffer.from(m.format) },
    { type: 'put', key: META + 'heads', value: Buffer.from(m.heads) },
    { type: 'put', key: META + 'digest', value: Buffer.from(m.digest) },
    { type: 'put', key: META + 'entries', value: Buffer.from(String(m.entries)) },
  ];
}

export class DamagedViewError extends UserError {}

// Reads of the stored view, through a bounded cache of inodes (an LRU by insertion order:
// a hit moves the path to the back).
export class ViewStore {
  private db: DB;
  private cache = new Map<string, Inode | null>();
  readonly cacheSize: number;
  readonly label: string;

  constructor(db: DB, label: string, cacheSize = 4096) {
    this.db = db;
    this.label = label;
    this.cacheSize = cacheSize;
  }

  async meta(): Promise<ViewMeta | null> {
    const [format, heads, digest, entries] = await this.db.getMany([META + 'format', META + 'heads', META + 'digest', META + 'entries']);
    if (format === undefined || heads === undefined || digest === undefined || entries === undefined) return null;
    const s = (b: Uint8Array) => Buffer.from(b).toString();
    return { format: s(format), heads: s(heads), digest: s(digest), entries: Number(s(entries)) };
  }

  damaged(what: string): DamagedViewError {
    return new DamagedViewError(`the stored view of ${this.label} is damaged: ${what}; run basefs fsck ${this.label} to rebuild it from the log (nothing in the log is lost)`, 'ECORRUPT');
  }

  // The record's inode, or throws DamagedViewError when its checksum does not match.
  static check(key: string, value: Uint8Array): Uint8Array | null {
    if (value.length < 8) return null;
    const body = value.subarray(8);
    return Buffer.compare(sum8(key, body), value.subarray(0, 8)) === 0 ? body : null;
  }

  // The inode a record holds (null: damaged). `path`: of the inode (a listing record's key
  // names the parent and the child).
  static parse(key: string, value: Uint8Array, path: string): Inode | null {
    const body = ViewStore.check(key, value);
    if (!body) return null;
    try {
      return decodeInode(path, body);
    } catch {
      return null;
    }
  }

  static parseNode(key: string, value: Uint8Array): Inode | null {
    return ViewStore.parse(key, value, key.slice(NODE.length));
  }

  async lookup(path: string): Promise<Inode | null> {
    const hit = this.cache.get(path);
    if (hit !== undefined) {
      this.cache.delete(path);
      this.cache.set(path, hit);
      return hit;
    }
    const key = NODE + path;
    const v = await this.db.get(key);
    let n: Inode | null = null;
    if (v !== undefined) {
      n = ViewStore.parseNode(key, v);
      if (!n) throw this.damaged(`the record of ${path} does not match its checksum`);
    }
    this.cache.set(path, n);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return n;
  }

  // Names of the visible children of a directory, sorted as FsState.readdir sorts them.
  async readdir(path: string): Promise<string[]> {
    return (await this.readdirPlus(path)).map((n) => n.path.slice(n.path.lastIndexOf('/') + 1));
  }

  // The visible children of a directory with their inodes, in readdir's order.
  async readdirPlus(path: string): Promise<Inode[]> {
    const prefix = DIR + path + '\0';
    const out: [string, Inode][] = [];
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: DIR + path + '\x01' })) {
      const name = k.slice(prefix.length);
      const n = ViewStore.parse(k, v, path === '/' ? '/' + name : path + '/' + name);
      if (!n) throw this.damaged(`the listing record of ${name} in ${path} does not match its checksum`);
      out.push([name, n]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
  }

  drop(path: string): void {
    this.cache.delete(path);
  }

  forget(): void {
    this.cache.clear();
  }
}

export function headsHex(heads: Uint8Array[]): string {
  return toHex(Buffer.concat(heads));
}
