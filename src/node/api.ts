import { readFile } from 'node:fs/promises';
import { Filesystem } from './filesystem.ts';
import { Kind, kindName } from '../log/entry.ts';
import { formatPublicKey, fingerprint, parsePublicKey, seedOf, type KeyPair } from '../crypto/keys.ts';
import { normalizePath, isUnder } from '../log/path.ts';
import { toHex, bytesEqual } from '../crypto/hash.ts';
import { writeTreeChunk, type TreeItem } from './tree.ts';
import { UserError } from '../errors/errors.ts';

// Everything the CLI can ask of a filesystem, with JSON-only arguments and results, so the
// same calls work in-process (no node running) and over the control socket (node running).
export interface NodeInfo {
  members(): MemberInfo[];
  resources(): NetResources | null;
  transfers(): { inTransfer: number };
  hooks?: () => { name: string; failures: number; last: string }[]; // hooks that keep failing (node/hooks.ts)
}

// A peer of the filesystem as the network knows it (network/node.ts fills these in).
export interface MemberInfo {
  peerId: string;
  addrs: string[];
  connected: boolean;
  lastSeen: number | null;
}

// What `basefs resources` shows of the network (network/node.ts; more fields in --json).
export interface NetResources {
  peerId: string;
  port: number | null;
  addrs: string[];
  connections: number;
  peers: { connected: number; members: number; known: number };
  queues: { syncRunning: number; syncQueued: number; contentQueued: number; contentIncomplete: number; inTransfer: number; parked: number };
  bytes: { in: number; out: number };
}

export class FsApi {
  fs: Filesystem;
  node: NodeInfo | null;
  constructor(fs: Filesystem, node: NodeInfo | null = null) {
    this.fs = fs;
    this.node = node;
  }

  // The same calls, made as `kp` (see Filesystem.actingAs).
  actingAs(kp: KeyPair): FsApi {
    return new FsApi(this.fs.actingAs(kp), this.node);
  }

  async status() {
    await this.fs.ready();
    const st = this.fs.status();
    const blocks = await this.fs.content.stats(this.fs.contentRoots());
    return { ...st, members: this.node ? this.node.members() : [], bytesStored: blocks.bytesStored, running: !!this.node, counters: this.fs.counters, failingHooks: this.node?.hooks?.() ?? [] };
  }

  // ls and cat work on a lazy open (the stored view); every other call replays the log first.
  async ls(path: string) {
    const p = normalizePath(path);
    const n = await this.fs.stat(p);
    if (!n) throw new UserError(`no such file or directory: ${this.fs.name}:${p}`, 'ENOENT');
    // owner/group as recorded (names), absent when not recorded
    const entry = (name: string, c: NonNullable<typeof n>) => ({ name, type: c.type, size: c.size, mode: c.mode, mtime: c.mtime, owner: c.owner || undefined, group: c.group || undefined, target: c.target || undefined });
    if (n.type !== 'dir') return [entry(p.slice(p.lastIndexOf('/') + 1), n)];
    return (await this.fs.listInodes(p)).map((c) => entry(c.path.slice(c.path.lastIndexOf('/') + 1), c));
  }

  async cat(path: string) {
    return { data: Buffer.from(await this.fs.readFile(path)).toString('base64') };
  }

  async write(path: string, src: { base64?: string; file?: string }, mode?: number) {
    await this.fs.ready();
    let e;
    if (src.file !== undefined) {
      const p = normalizePath(path);
      const c = this.fs.state.canWrite(this.fs.requireKey().publicKey, p);
      if (!c.ok) throw new UserError(c.reason, 'EACCES');
      const ref = await this.fs.content.writeFile(src.file);
      e = await this.fs.writeContent(p, ref, mode);
    } else {
      e = await this.fs.writeFile(path, Buffer.from(src.base64 ?? '', 'base64'), mode);
    }
    return { id: e.idHex, size: e.size };
  }

  // One chunk of a local tree (`write -r`): content of its files, then one durable append.
  async writeTree(dest: string, items: TreeItem[]) {
    await this.fs.ready();
    return writeTreeChunk(this.fs, dest, items);
  }

  async mkdir(path: string, parents = false) {
    await this.fs.ready();
    const p = normalizePath(path);
    if (parents) {
      let last = null;
      const parts = p.split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i++) {
        const sub = '/' + parts.slice(0, i).join('/');
        const n = this.fs.state.lookup(sub);
        if (n?.type === 'dir') continue;
        last = await this.fs.mkdir(sub);
      }
      return { id: last?.idHex ?? null };
    }
    return { id: (await this.fs.mkdir(p)).idHex };
  }

  async rm(path: string, recursive = false) {
    await this.fs.ready();
    return { id: (await this.fs.remove(path, recursive)).idHex };
  }

  async mv(from: string, to: string) {
    await this.fs.ready();
    return { id: (await this.fs.rename(from, to)).idHex };
  }

  async symlink(target: string, path: string) {
    await this.fs.ready();
    return { id: (await this.fs.symlink(target, path)).idHex };
  }

  async chmod(path: string, mode: number) {
    await this.fs.ready();
    return { id: (await this.fs.setattr(path, { mode })).idHex };
  }

  async grant(key: string, path: string) {
    await this.fs.ready();
    const k = this.resolveKey(key);
    const e = await this.fs.grant(k, path);
    return { id: e.idHex, key: formatPublicKey(k), fingerprint: fingerprint(k), path: e.path };
  }

  async revoke(key: string, path: string) {
    await this.fs.ready();
    const k = this.resolveKey(key);
    const e = await this.fs.revoke(k, path);
    return { id: e.idHex, key: formatPublicKey(k), fingerprint: fingerprint(k), path: e.path, removed: this.fs.removedBy(e.idHex) };
  }

  // A public key, or a fingerprint of a key the log already knows.
  resolveKey(s: string): Uint8Array {
    const t = s.trim();
    if (/^[0-9a-f]{8,32}$/i.test(t)) {
      const known = new Map<string, Uint8Array>();
      for (const n of this.fs.dag.ordered()) {
        known.set(toHex(n.entry.author), n.entry.author);
        if (n.entry.key.length) known.set(toHex(n.entry.key), n.entry.key);
      }
      const hits = [...known.values()].filter((k) => fingerprint(k).startsWith(t.toLowerCase()));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw new UserError(`fingerprint ${t} matches ${hits.length} keys; give more digits or the full public key`);
      throw new UserError(`no key with fingerprint ${t} appears in ${this.fs.name}'s log; give the full public key (ed25519:...)`);
    }
    let k: Uint8Array;
    try {
      k = parsePublicKey(t);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    // The seed of the signing key given as a "public key" would publish it to every node.
    if (this.fs.kp && bytesEqual(seedOf(this.fs.kp.privateKey), k)) throw new UserError('that is the private key (seed) of the signing key, not a public key; give the public key (ed25519:...) or its fingerprint, as printed by basefs genkey');
    return k;
  }

  async keys(path?: string) {
    await this.fs.ready();
    const p = path ? normalizePath(path) : null;
    return this.fs.state
      .grants()
      .filter((g) => !p || isUnder(p, g.path) || isUnder(g.path, p))
      .map((g) => ({ key: formatPublicKey(g.key), fingerprint: fingerprint(g.key), path: g.path, rank: g.rank, grantedBy: g.grantedBy ? fingerprint(g.grantedBy) : null, entry: g.entryId, revokedBy: g.revokedBy }));
  }

  async log(path: string) {
    await this.fs.ready();
    const p = normalizePath(path);
    return this.fs.state.history(p).map((v) => ({
      id: v.entry.idHex,
      kind: kindName(v.entry.kind),
      author: fingerprint(v.entry.author),
      time: new Date(v.entry.time).toISOString(),
      height: v.height,
      rank: v.rank,
      valid: v.valid,
      winner: v.winner,
      why: v.why,
      size: v.entry.kind === Kind.WRITE ? v.entry.size : undefined,
      target: v.entry.target || undefined,
    }));
  }

  async revert(path: string, rev: string) {
    await this.fs.ready();
    return { id: (await this.fs.revert(path, rev)).idHex };
  }

  async show(path?: string) {
    await this.fs.ready();
    const p = path ? normalizePath(path) : '/';
    const out = [];
    for (const n of this.fs.dag.ordered()) {
      const e = n.entry;
      if (!isUnder(e.path, p) && !(e.target && isUnder(e.target, p)) && e.kind !== Kind.BOOTSTRAP) continue;
      const valid = this.fs.state.isValid(e.idHex);
      const live = this.fs.state.lookup(e.path);
      const inView = e.kind === Kind.BOOTSTRAP || (valid && (e.kind === Kind.GRANT || e.kind === Kind.REVOKE || e.kind === Kind.SNAPSHOT || live?.entryId === e.idHex || (e.kind === Kind.RENAME && this.fs.state.lookup(e.target)?.entryId === e.idHex)));
      out.push({ id: e.idHex, height: n.height, kind: kindName(e.kind), path: e.path, target: e.target || undefined, name: e.name || undefined, key: e.key.length ? fingerprint(e.key) : undefined, author: fingerprint(e.author), time: new Date(e.time).toISOString(), deps: e.deps.map((d) => toHex(d)), valid, inView });
    }
    return out;
  }

  async snapshot(label: string) {
    await this.fs.ready();
    return { id: (await this.fs.snapshot(label)).idHex };
  }

  async snapshots() {
    await this.fs.ready();
    return this.fs.state.snapshots();
  }

  async blocks() {
    await this.fs.ready();
    const s = await this.fs.content.stats(this.fs.contentRoots());
    return { ...s, inTransfer: this.node ? this.node.transfers().inTransfer : 0 };
  }

  async members() {
    if (!this.node) throw new UserError(`no node is running for ${this.fs.name}; start one with basefs run ${this.fs.name} or basefs mount ${this.fs.name} DIR`);
    return this.node.members();
  }

  // `gc`: collect garbage first when the node runs with --expose-gc (memory tests measure what
  // is retained, not what the collector has yet to reclaim).
  async resources(gc?: boolean) {
    await this.fs.ready();
    const g = (globalThis as { gc?: () => void }).gc;
    if (gc && g) g();
    const m = process.memoryUsage();
    return { pid: process.pid, rss: m.rss, heapUsed: m.heapUsed, external: m.external, entries: this.fs.dag.size, parked: this.fs.dag.parked.size, uptimeSec: Math.round(process.uptime()), node: this.node ? this.node.resources() : null };
  }

  async readFileArg(file: string) {
    return readFile(file);
  }
}

export const API_METHODS = ['status', 'ls', 'cat', 'write', 'writeTree', 'mkdir', 'rm', 'mv', 'symlink', 'chmod', 'grant', 'revoke', 'keys', 'log', 'revert', 'show', 'snapshot', 'snapshots', 'blocks', 'members', 'resources'] as const;
export type ApiMethod = (typeof API_METHODS)[number];
