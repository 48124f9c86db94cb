import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { Dag } from '../log/dag.ts';
import { Kind, LIMITS, type Entry } from '../log/entry.ts';
import { createEntry, verifyEntry, type Draft } from '../log/sign.ts';
import { decodeEntry } from '../log/codec.ts';
import { normalizePath, parentOf, isUnder } from '../log/path.ts';
import { toHex, bytesEqual, compareBytes } from '../crypto/hash.ts';
import { fingerprint, type KeyPair } from '../crypto/keys.ts';
import { LogStore } from '../storage/logstore.ts';
import { ChunkStore, type ContentRef } from '../content/store.ts';
import { FsState, type Inode } from '../view/state.ts';
import { AuthorityError, UserError, sizeMismatch } from '../errors/errors.ts';
import { Mutex } from './mutex.ts';
import { ensureDir, fsDir } from './datadir.ts';
import { RefusedAudit } from './audit.ts';
import { ViewStore } from '../storage/viewstore.ts';
import { viewCurrent, viewOps, syncView, allPaths } from './viewsync.ts';
import { Journal, type Change } from './journal.ts';

export interface OpenOptions {
  allowEmpty?: boolean;
  onProgress?: (read: number, parked: number) => void;
  lazy?: boolean;
  checkView?: boolean;
  notice?: (msg: string) => void;
  progressEveryMs?: number;
  viewCache?: number; // inodes the stored view's cache holds (default 4,096: about 2 MB)
}

export interface IngestReport {
  accepted: Entry[]; // newly applied (incl. released parked ones), in causal order
  parked: number;
  full: number; // deps missing and no room to wait for them (not the sender's fault)
  duplicates: number;
  rejected: { reason: string; idHex?: string }[];
  missing: string[]; // dep ids we should fetch
}

// One filesystem on this node: its log on disk, the causal DAG, the materialized view and
// the chunk store, behind the operations every front end (CLI, control socket, FUSE,
// network) uses. Emits 'entries' (Entry[]) after new entries are durable and applied.
export class Filesystem extends EventEmitter {
  readonly name: string;
  readonly dir: string;
  readonly dag: Dag;
  state!: FsState;
  readonly log: LogStore;
  readonly view: ViewStore; // the persistent view: what a lazy open reads instead of replaying
  private notice: (msg: string) => void = () => {};
  readonly content: ChunkStore;
  kp: KeyPair | null;
  private mutex = new Mutex();
  counters = { rejected: 0, parked: 0, accepted: 0, duplicates: 0 };
  // The filesystem itself, also from an actingAs() view of it: whatever replaces the state
  // (load, reload) must do it on the shared object, not on the view.
  private readonly self: Filesystem = this;
  readonly refused = new RefusedAudit();
  readonly journal: Journal; // changes of the view, with cursors (watch, hooks)

  private constructor(name: string, dir: string, log: LogStore, content: ChunkStore, kp: KeyPair | null, viewCache?: number) {
    super();
    this.name = name;
    this.dir = dir;
    this.log = log;
    this.content = content;
    this.kp = kp;
    this.dag = new Dag();
    this.view = new ViewStore(log.db, name, viewCache);
    this.journal = new Journal(log.db);
  }

  // Whether the log has been replayed into memory (a lazy open answers from the stored view).
  get loaded(): boolean {
    return this.state !== undefined;
  }

  // Replays the log if a lazy open has not yet: every operation except lookups, listings and
  // reads of file content needs the whole view in memory.
  async ready(): Promise<this> {
    const fs = this.self;
    if (!fs.loaded) await fs.mutex.run(async () => {
      if (!fs.loaded) await fs.load();
    });
    return this;
  }

  get fsId(): Uint8Array {
    if (!this.dag.fsId) throw new UserError(`filesystem ${this.name} has no bootstrap entry yet`);
    return this.dag.fsId;
  }

  // Opens (or creates empty) storage for NAME. Use create() / ingest of a bootstrap entry to start a log.
  // `onProgress` hears about a long open every `progressEveryMs` (2 s by default): entries
  // read so far, parked entries checked so far.
  // `lazy`: do not replay the log; lookups, listings and reads come from the stored view
  // until ready() (if the stored view is missing or behind the log, the log is replayed).
  // `notice`: hears what open repaired (a stored view rebuilt, and why).
  static async open(home: string, name: string, kp: KeyPair | null, opts: OpenOptions = {}): Promise<Filesystem> {
    const dir = fsDir(home, name);
    if (!opts.allowEmpty && !existsSync(join(dir, 'log'))) throw new UserError(`no filesystem "${name}" in ${home}`);
    ensureDir(dir);
    const log = await LogStore.open(join(dir, 'log'));
    let content: ChunkStore;
    try {
      content = await ChunkStore.open(join(dir, 'chunks'));
    } catch (e) {
      await log.close();
      throw e;
    }
    const fs = new Filesystem(name, dir, log, content, kp, opts.viewCache);
    if (opts.notice) fs.notice = opts.notice;
    try {
      await fs.journal.open();
      if (opts.lazy && (await viewCurrent(log, fs.view))) return fs;
      await fs.load(opts.onProgress, opts.checkView ?? true, opts.progressEveryMs ?? 2000);
    } catch (e) {
      await fs.close();
      throw e;
    }
    return fs;
  }

  static async create(home: string, name: string, kp: KeyPair, cluster: string[]): Promise<Filesystem> {
    const dir = fsDir(home, name);
    if (existsSync(join(dir, 'log'))) throw new UserError(`filesystem "${name}" already exists in ${home}`);
    let fs: Filesystem | null = null;
    try {
      fs = await Filesystem.open(home, name, kp, { allowEmpty: true });
      const boot = createEntry(kp, { kind: Kind.BOOTSTRAP, path: '/', name, mode: 0o755 });
      const olds = new Map<string, Inode | null>();
      const changed = fs.applyLocal(boot, olds);
      await fs.appendDurable([boot], [], changed, olds);
      await fs.log.setMeta('name', name);
      await fs.log.setMeta('fsId', boot.idHex);
      await fs.writeFile('/.cluster', Buffer.from(cluster.map((a) => a + '\n').join('')), 0o644);
      return fs;
    } catch (e) {
      if (fs) await fs.close();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  // Replays the stored log into memory. `checkView`: compare the stored view with the replay
  // (its digest and heads, not every record: that is fsck) and rebuild it when it differs or
  // is missing (a data directory of an earlier release).
  private async load(onProgress?: (read: number, parked: number) => void, checkView = true, everyMs = 2000): Promise<void> {
    let told = Date.now();
    const tell = (parked: number) => {
      if (!onProgress || Date.now() - told < everyMs) return;
      told = Date.now();
      onProgress(this.dag.size, parked);
    };
    for await (const batch of this.log.readBatches()) {
      tell(0);
      for (const e of batch) {
        const r = this.dag.add(e);
        if (r.status === 'rejected') throw new UserError(`log of ${this.name} holds an entry it cannot apply (${e.idHex}): ${r.reason}`);
      }
    }
    this.state = new FsState(this.dag);
    this.dag.policy = {
      admit: (e) => this.state.admissible(e),
      applied: (n) => this.state.prepare(n),
      proven: (a) => this.state.hasGrantRecord(a),
    };
    // Parked entries go through the same bounds and rules as when they arrived. Their
    // signatures are checked here, since a parked entry is applied without another check once
    // its deps arrive: a damaged one (decodes or not) is skipped and fetched again.
    const released: Entry[] = [];
    const gone: string[] = [];
    let nParked = 0;
    for await (const b of this.log.readParked()) {
      if (++nParked % 1000 === 0) tell(nParked);
      try {
        const e = decodeEntry(b);
        if (!verifyEntry(e)) continue;
        const r = this.dag.add(e);
        if (r.status === 'applied') released.push(...r.applied.map((n) => n.entry));
        else if (r.status !== 'parked') gone.push(e.idHex);
      } catch { /* does not decode: fetched again like any missing entry */ }
    }
    const drop = [...gone, ...this.dag.takeDropped()];
    if (checkView) await syncView(this, (done, total) => this.tell(`stored view of ${this.name}: ${done} of ${total} paths written`));
    if (released.length) {
      const olds = new Map<string, Inode | null>();
      const changed = this.state.apply(released.map((e) => this.dag.get(e.idHex)!), olds);
      await this.appendDurable(released, [...drop, ...released.map((e) => e.idHex)], changed, olds);
    } else if (drop.length) await this.log.unpark(drop);
  }

  // Applies a local entry in memory; returns the paths whose view changed.
  private applyLocal(e: Entry, olds: Map<string, Inode | null>): string[] {
    const r = this.dag.add(e);
    if (r.status !== 'applied') throw new Error(`internal: local entry not applied (${r.status})`);
    if (this.state) return this.state.apply(r.applied, olds);
    this.state = new FsState(this.dag);
    olds.set('/', null);
    return ['/'];
  }

  // Stores entries already applied in memory, with the view records of the paths they
  // changed, in one synced batch: the stored view always reflects exactly the stored entries.
  // Returns at once with the promise of durability; the caller must hold the mutex until
  // then only if it needs to (ingest does, local commits do not: group commit). If the batch
  // does not reach the disk (disk full, read-only), memory is reloaded from the log, so that
  // nothing the disk does not hold is shown or built on.
  // The journal records of the changes go in the same batch (node/journal.ts); listeners of
  // 'changes' (Change[]) hear them once durable (durableDone). `olds`: the changed paths'
  // inodes before the append (FsState.apply).
  private enqueueDurable(entries: Entry[], unpark: string[], changed: string[], olds: Map<string, Inode | null>): { durable: Promise<void>; changes: Change[] } {
    const j = this.journal.prepare(this.state, entries, changed, olds);
    const durable = this.log.append(entries, this.dag.headIds(), unpark, [...viewOps(this, changed), ...j.ops]);
    for (const p of changed) this.view.drop(p);
    return { durable, changes: j.changes };
  }

  private durableDone(changes: Change[]): void {
    this.journal.commit(changes);
    if (changes.length) this.emit('changes', changes);
  }

  private async appendDurable(entries: Entry[], unpark: string[], changed: string[], olds: Map<string, Inode | null>): Promise<void> {
    const { durable, changes } = this.enqueueDurable(entries, unpark, changed, olds);
    try {
      await durable;
    } catch (e) {
      await this.reloadAfterFailure();
      throw e;
    }
    this.durableDone(changes);
  }

  // After a batch that did not reach the disk: memory again equals the disk. The caller holds
  // the mutex. Idempotent: every append that failed with the same batch calls it.
  private async reloadAfterFailure(): Promise<void> {
    const fs = this.self;
    if (!fs.log.failed) return;
    fs.dag.reset();
    (fs as { state?: FsState }).state = undefined;
    fs.view.forget();
    fs.log.recover();
    await fs.journal.rollback(); // the cursors the failed batches took are given back
    await fs.load(undefined, false);
  }

  // Lookups and listings for callers that may run on a lazy open (the CLI without a node).
  async stat(path: string): Promise<Inode | null> {
    const p = normalizePath(path);
    return this.loaded ? this.state.lookup(p) : this.view.lookup(p);
  }

  async list(path: string): Promise<string[]> {
    const p = normalizePath(path);
    return this.loaded ? this.state.readdir(p) : this.view.readdir(p);
  }

  // A directory's children with their inodes (ls -l): one range scan of the stored view.
  async listInodes(path: string): Promise<Inode[]> {
    const p = normalizePath(path);
    if (!this.loaded) return this.view.readdirPlus(p);
    return this.state.readdir(p).map((name) => this.state.lookup(p === '/' ? '/' + name : p + '/' + name)!);
  }

  // Tells the user (through the open's `notice`) what open found and repaired.
  tell(msg: string): void {
    this.notice(msg);
  }

  // The same filesystem, signing with `kp` instead of the node's key: the control socket uses
  // it for one request of a CLI that was given --key / BASEFS_KEY. Everything else (log, view,
  // mutex, events) is shared through the prototype; only `kp` differs.
  actingAs(kp: KeyPair): Filesystem {
    return Object.create(this, { kp: { value: kp, writable: false, enumerable: true } }) as Filesystem;
  }

  requireKey(): KeyPair {
    if (!this.kp) throw new UserError('this command needs a private key; create one with basefs genkey or pass --key PATH');
    return this.kp;
  }

  // Checks authority, signs with deps = the valid heads, applies, stores durably.
  async commit(draft: Draft): Promise<Entry> {
    return (await this.commitMany([draft]))[0];
  }

  // Several local entries in one durable append (one fsync), each following the previous one:
  // the FUSE layer commits files closed close together this way. All or nothing.
  // The mutex covers the checks, signing and applying in memory, not the wait for the disk:
  // concurrent commits share the log's synced batches (group commit), in the order they
  // were signed. A commit is visible to lookups before it is durable (as written data is in
  // a page cache), but it is acknowledged and sent to peers only once durable.
  async commitMany(drafts: Draft[]): Promise<Entry[]> {
    if (drafts.length === 0) return [];
    const { out, durable } = await this.mutex.run(async () => {
      const kp = this.requireKey();
      for (const d of drafts) {
        for (const p of d.kind === Kind.RENAME ? [d.path, d.target!] : [d.path]) {
          const c = this.state.canWrite(kp.publicKey, p);
          if (!c.ok) throw new AuthorityError(c.reason);
        }
      }
      let { deps, time } = this.parents();
      const out: Entry[] = [];
      for (const d of drafts) {
        const e = createEntry(kp, { ...d, fsId: this.fsId, deps, time });
        out.push(e);
        deps = [e.id];
      }
      const changed = new Set<string>();
      const olds = new Map<string, Inode | null>();
      for (const e of out) for (const p of this.applyLocal(e, olds)) changed.add(p);
      return { out, durable: this.enqueueDurable(out, [], [...changed], olds) };
    });
    try {
      await durable.durable;
    } catch (e) {
      await this.mutex.run(() => this.reloadAfterFailure());
      throw e;
    }
    this.durableDone(durable.changes);
    this.emit('entries', out);
    return out;
  }

  // Deps and timestamp of a new local entry: the valid entries nearest the heads (an invalid
  // entry, e.g. made by a revoked key, is never built on and never lends its clock), at most
  // LIMITS.maxDeps of them (more would not decode; the heads left out are merged later).
  private parents(): { deps: Uint8Array[]; time: number } {
    const out = new Map<string, Entry>();
    const seen = new Set<string>();
    const stack = [...this.dag.heads];
    while (stack.length) {
      const h = stack.pop()!;
      if (seen.has(h)) continue;
      seen.add(h);
      const e = this.dag.get(h)!.entry;
      if (this.state.isValid(h)) out.set(h, e);
      else for (const d of e.deps) stack.push(toHex(d));
    }
    const use = [...out.values()].sort((a, b) => compareBytes(a.id, b.id)).slice(0, LIMITS.maxDeps);
    let time = Date.now();
    for (const e of use) time = Math.max(time, e.time);
    return { deps: use.map((e) => e.id), time };
  }

  // Remote entries (raw bytes): decode, check id/signature/fsId, apply or park. Never drops
  // an entry whose deps are missing; invalid-by-authority entries are kept for audit.
  // `source`: the peer the bytes came from (its share of the parking space).
  async ingest(items: Uint8Array[], source = ''): Promise<IngestReport> {
    return this.mutex.run(async () => {
      const rep: IngestReport = { accepted: [], parked: 0, full: 0, duplicates: 0, rejected: [], missing: [] };
      const missing = new Set<string>();
      const unpark: string[] = [];
      for (const b of items) {
        let e: Entry;
        try {
          e = decodeEntry(b);
        } catch (err) {
          rep.rejected.push({ reason: (err as Error).message });
          continue;
        }
        if (this.dag.has(e.idHex)) {
          rep.duplicates++;
          continue;
        }
        if (this.dag.fsId && e.kind !== Kind.BOOTSTRAP && !bytesEqual(e.fsId, this.dag.fsId)) {
          rep.rejected.push({ reason: 'wrong filesystem id', idHex: e.idHex });
          continue;
        }
        if (e.time > Date.now() + LIMITS.maxFutureSkewMs) {
          rep.rejected.push({ reason: 'timestamp too far in the future', idHex: e.idHex });
          continue;
        }
        if (!verifyEntry(e)) {
          rep.rejected.push({ reason: 'bad signature', idHex: e.idHex });
          continue;
        }
        const wasParked = this.dag.parked.has(e.idHex);
        const r = this.dag.add(e, source);
        if (r.status === 'applied') {
          for (const n of r.applied) {
            rep.accepted.push(n.entry);
            if (n.entry !== e || wasParked) unpark.push(n.entry.idHex);
          }
        } else if (r.status === 'parked') {
          rep.parked++;
          for (const m of r.missing) missing.add(m);
          await this.log.park(e);
        } else if (r.status === 'duplicate') rep.duplicates++;
        else if (r.status === 'full') rep.full++;
        else {
          rep.rejected.push({ reason: r.reason, idHex: e.idHex });
          this.refused.record(e, r.reason);
        }
      }
      const dropped = this.dag.takeDropped();
      if (rep.accepted.length) {
        const nodes = rep.accepted.map((e) => this.dag.get(e.idHex)!);
        let changed: string[];
        const olds = new Map<string, Inode | null>();
        if (this.state) changed = this.state.apply(nodes, olds);
        else {
          this.state = new FsState(this.dag);
          changed = [...allPaths(this.state)];
          for (const p of changed) olds.set(p, null);
        }
        await this.appendDurable(rep.accepted, [...unpark, ...dropped], changed, olds);
        const boot = rep.accepted.find((e) => e.kind === Kind.BOOTSTRAP);
        if (boot) {
          await this.log.setMeta('name', boot.name);
          await this.log.setMeta('fsId', boot.idHex);
        }
      } else if (dropped.length) await this.log.unpark(dropped);
      rep.missing = [...missing].filter((m) => !this.dag.has(m));
      this.counters.accepted += rep.accepted.length;
      this.counters.parked += rep.parked;
      this.counters.duplicates += rep.duplicates;
      this.counters.rejected += rep.rejected.length;
      if (rep.accepted.length) this.emit('entries', rep.accepted);
      return rep;
    });
  }

  // ---- file operations (paths are normalized here) ----

  lookup(path: string): Inode | null {
    return this.state.lookup(normalizePath(path));
  }

  private requireDirParent(p: string): void {
    const parent = this.state.lookup(parentOf(p));
    if (!parent) throw new UserError(`no such directory: ${parentOf(p)}`, 'ENOENT');
    if (parent.type !== 'dir') throw new UserError(`not a directory: ${parentOf(p)}`, 'ENOTDIR');
  }

  async writeContent(path: string, ref: ContentRef, mode?: number, mtime?: number): Promise<Entry> {
    const p = normalizePath(path);
    const cur = this.state.lookup(p);
    if (cur?.type === 'dir') throw new UserError(`is a directory: ${p}`, 'EISDIR');
    if (!cur) this.requireDirParent(p);
    // a new version keeps the file's owner and group (they change only by chown)
    return this.commit({ kind: Kind.WRITE, path: p, root: ref.root, size: ref.size, mode: mode ?? cur?.mode ?? 0o644, mtime: mtime ?? Date.now(), owner: cur?.owner, group: cur?.group });
  }

  async writeFile(path: string, data: Uint8Array, mode?: number): Promise<Entry> {
    const p = normalizePath(path);
    const kp = this.requireKey();
    const c = this.state.canWrite(kp.publicKey, p);
    if (!c.ok) throw new AuthorityError(c.reason); // before storing any content
    const ref = await this.content.writeBuffer(data);
    return this.writeContent(p, ref, mode);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const p = normalizePath(path);
    const n = await this.stat(p);
    if (!n) throw new UserError(`no such file: ${this.name}:${p}`, 'ENOENT');
    if (n.type === 'dir') throw new UserError(`is a directory: ${this.name}:${p}`, 'EISDIR');
    if (n.type === 'symlink') return Buffer.from(n.target);
    const label = `${this.name}:${p}`;
    const actual = await this.content.size(n.root!, label);
    if (actual !== n.size) throw sizeMismatch(label, n.size, actual);
    return this.content.readAll(n.root!, label);
  }

  async mkdir(path: string, mode = 0o755): Promise<Entry> {
    const p = normalizePath(path);
    const cur = this.state.lookup(p);
    if (cur) throw new UserError(`already exists: ${this.name}:${p}`, 'EEXIST');
    this.requireDirParent(p);
    return this.commit({ kind: Kind.MKDIR, path: p, mode });
  }

  async remove(path: string, recursive = false): Promise<Entry> {
    const p = normalizePath(path);
    if (p === '/') throw new UserError('cannot remove the root directory', 'EPERM');
    const cur = this.state.lookup(p);
    if (!cur) throw new UserError(`no such file or directory: ${this.name}:${p}`, 'ENOENT');
    if (cur.type === 'dir' && !recursive && this.state.readdir(p).length > 0) throw new UserError(`directory not empty: ${this.name}:${p} (use -r)`, 'ENOTEMPTY');
    return this.commit({ kind: Kind.DELETE, path: p });
  }

  async rename(from: string, to: string): Promise<Entry> {
    const a = normalizePath(from);
    const b = normalizePath(to);
    const cur = this.state.lookup(a);
    if (!cur) throw new UserError(`no such file or directory: ${this.name}:${a}`, 'ENOENT');
    if (b === a) return this.dag.get([...this.dag.heads][0])!.entry;
    if (b.startsWith(a + '/')) throw new UserError(`cannot move ${a} into itself`, 'EINVAL');
    const dst = this.state.lookup(b);
    if (dst?.type === 'dir' && cur.type !== 'dir') throw new UserError(`is a directory: ${b}`, 'EISDIR');
    if (dst?.type === 'dir' && this.state.readdir(b).length > 0) throw new UserError(`directory not empty: ${b}`, 'ENOTEMPTY');
    if (!dst) this.requireDirParent(b);
    return this.commit({ kind: Kind.RENAME, path: a, target: b });
  }

  async symlink(target: string, path: string): Promise<Entry> {
    const p = normalizePath(path);
    if (this.state.lookup(p)) throw new UserError(`already exists: ${this.name}:${p}`, 'EEXIST');
    this.requireDirParent(p);
    return this.commit({ kind: Kind.SYMLINK, path: p, target });
  }

  // A SETATTR carries all of mode, mtime, owner and group: the ones not given keep their value.
  async setattr(path: string, attrs: { mode?: number; mtime?: number; owner?: string; group?: string }): Promise<Entry> {
    const p = normalizePath(path);
    const cur = this.state.lookup(p);
    if (!cur) throw new UserError(`no such file or directory: ${this.name}:${p}`, 'ENOENT');
    return this.commit({ kind: Kind.SETATTR, path: p, mode: attrs.mode ?? cur.mode, mtime: attrs.mtime ?? cur.mtime, owner: attrs.owner ?? cur.owner, group: attrs.group ?? cur.group });
  }

  async grant(key: Uint8Array, path: string): Promise<Entry> {
    return this.commit({ kind: Kind.GRANT, path: normalizePath(path), key });
  }

  // Refused unless it removes at least one grant: a REVOKE removes K's grants at or under P
  // that the revoker made, or that are weaker than the revoker's rank at P (AUTHORITY.md 7).
  async revoke(key: Uint8Array, path: string): Promise<Entry> {
    const p = normalizePath(path);
    const kp = this.requireKey();
    const held = this.state.grants().filter((g) => bytesEqual(g.key, key) && isUnder(g.path, p) && !g.revokedBy && g.entryId !== this.dag.fsIdHex);
    if (held.length === 0) throw new UserError(`key ${fingerprint(key)} holds no grant at or under ${this.name}:${p}; see basefs keys ${this.name}`);
    const rank = this.state.rankOf(kp.publicKey, p);
    const removable = held.filter((g) => bytesEqual(g.grantedBy, kp.publicKey) || (rank !== null && rank < g.rank));
    if (rank !== null && removable.length === 0) {
      throw new AuthorityError(`key ${fingerprint(kp.publicKey)} (rank ${rank} at ${p}) cannot revoke ${fingerprint(key)}'s grant${held.length > 1 ? 's' : ''} at ${held.map((g) => g.path).join(', ')}: made by another key and not weaker than yours; a key with a stronger grant must revoke ${held.length > 1 ? 'them' : 'it'}`);
    }
    return this.commit({ kind: Kind.REVOKE, path: p, key });
  }

  // Paths of the grants an entry (a REVOKE) removed.
  removedBy(idHex: string): string[] {
    return this.state.grants().filter((g) => g.removedBy.includes(idHex)).map((g) => g.path);
  }

  async snapshot(label: string): Promise<Entry> {
    if (!label || label.includes('/') || label.includes('\0') || label === '.' || label === '..') throw new UserError(`bad snapshot label "${label}"`);
    if (this.state.snapshots().some((s) => s.label === label)) throw new UserError(`snapshot "${label}" already exists`, 'EEXIST');
    return this.commit({ kind: Kind.SNAPSHOT, path: '/', name: label });
  }

  // Restores a past version (an entry id or unique prefix from `log`) as a new version.
  async revert(path: string, rev: string): Promise<Entry> {
    const p = normalizePath(path);
    const versions = this.state.history(p).filter((v) => v.entry.idHex.startsWith(rev.toLowerCase()));
    if (versions.length === 0) throw new UserError(`no version ${rev} of ${this.name}:${p}; see basefs log ${this.name}:${p}`);
    if (versions.length > 1) throw new UserError(`version prefix ${rev} is ambiguous for ${p}; give more digits`);
    const v = versions[0];
    // A version's inode is the state it gives the path (for a rename, the moved content).
    const n = v.inode;
    if (!n) return this.commit({ kind: Kind.DELETE, path: p });
    switch (n.type) {
      case 'file':
        return this.commit({ kind: Kind.WRITE, path: p, root: n.root!, size: n.size, mode: n.mode, mtime: Date.now(), owner: n.owner, group: n.group });
      case 'symlink':
        return this.commit({ kind: Kind.SYMLINK, path: p, target: n.target, owner: n.owner, group: n.group });
      default:
        return this.commit({ kind: Kind.MKDIR, path: p, mode: n.mode, owner: n.owner, group: n.group });
    }
  }

  entryBytes(idHex: string): Uint8Array | undefined {
    return this.dag.get(idHex)?.entry.bytes;
  }

  contentRoots(): Uint8Array[] {
    return this.contentFiles().map((f) => f.root);
  }

  // Every file in the view with content, and its size (for progress totals).
  contentFiles(): { root: Uint8Array; size: number }[] {
    const out: { root: Uint8Array; size: number }[] = [];
    const walk = (p: string) => {
      for (const name of this.state.readdir(p)) {
        const c = p === '/' ? '/' + name : p + '/' + name;
        const n = this.state.lookup(c);
        if (!n) continue;
        if (n.type === 'file' && n.root) out.push({ root: n.root, size: n.size });
        else if (n.type === 'dir') walk(c);
      }
    };
    walk('/');
    return out;
  }

  status() {
    return {
      name: this.name,
      fsId: this.dag.fsIdHex,
      heads: [...this.dag.heads],
      entries: this.dag.size,
      parked: this.dag.parked.size,
      parkedBytes: this.dag.parkedBytes,
      refused: { total: this.refused.total, kept: this.refused.size, authors: this.refused.authors() },
      viewDigest: this.state.viewDigest(),
      key: this.kp ? toHex(this.kp.publicKey) : null,
      lastUpdate: this.lastUpdate(),
    };
  }

  // Time of the newest entry (ISO), by its author's clock as recorded in the entry. A scan of
  // all entries, not the heads: a remote author may date an entry before its deps.
  lastUpdate(): string | null {
    let t = -1;
    for (const n of this.dag.nodes.values()) if (n.entry.time > t) t = n.entry.time;
    return t < 0 ? null : new Date(t).toISOString();
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {});
    await this.log.close();
    await this.content.close();
  }
}
