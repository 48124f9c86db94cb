import { existsSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Filesystem } from '../node/filesystem.ts';
import { checkName, controlSocketPath, fsDir, defaultPort } from '../node/datadir.ts';
import { controlAlive } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { formatPublicKey, fingerprint } from '../crypto/keys.ts';
import { startNetwork, type NetNode } from './node.ts';
import { FsIdMismatchError, type PullResult } from './sync.ts';
import { toMultiaddr } from './addr.ts';

export interface GetSummary {
  name: string;
  fsId: string;
  peer: string;
  entries: number;
  received: number;
  accepted: number;
  rejected: number;
  parked: number;
  files: number;
  filesIncomplete: number;
  chunks: number;
  contentBytes: number;
  seconds: number;
  entriesSeconds: number; // the entries phase, as timed by its meter
  entriesPerSec: number; // new entries / entriesSeconds: the rate the meter showed
  contentSeconds: number;
  contentBytesPerSec: number;
}

// Which filesystem `get` may accept: pinned by id, confirmed by the user, or (yes) whatever the
// peer serves under that name.
export interface Trust {
  id?: string; // full fsId, 64 hex digits
  yes?: boolean;
  // asks the user about a new filesystem: `who` names it (name, id, root key), on several lines
  ask?: (who: string, addr: string) => Promise<boolean>;
}

// Times one phase of `get` (entries, then content) and shows it if it likes: the CLI draws a
// progress bar, tests and benchmarks keep it silent. elapsed() is what the summary's rates use.
export interface Meter {
  update(value: number, total: number, detail?: { bytes?: number; files?: { done: number; of: number } }): void;
  stop(): void;
  elapsed(): number; // seconds, from creation to stop()
}

// What `get` shows while it runs; every member is optional (default: nothing shown).
export interface GetView {
  meter?(phase: 'entries' | 'content'): Meter;
  trusting?(who: string): void; // a new filesystem accepted because of trust.yes
  rejected?(count: number, reasons: string[]): void; // entries that failed verification
}

class SilentMeter implements Meter {
  private start = Date.now();
  private ended: number | null = null;
  update(): void {}
  stop(): void {
    this.ended ??= Date.now();
  }
  elapsed(): number {
    return ((this.ended ?? Date.now()) - this.start) / 1000;
  }
}

export interface GetOptions {
  timeoutSec?: number; // overall; default 1800
  trust?: Trust; // default { yes: true }
  view?: GetView;
}

// `basefs get`: fetch and verify a whole log (and the content of the files in its view) from
// one peer. Resumable: a rerun offers what is already stored and fetches the rest.
export async function getFilesystem(h: string, name: string, addr: string, kp: KeyPair | null, o: GetOptions = {}): Promise<GetSummary> {
  const timeoutSec = o.timeoutSec ?? 1800;
  const trust = o.trust ?? { yes: true };
  const view = o.view ?? {};
  const meter = (phase: 'entries' | 'content'): Meter => view.meter?.(phase) ?? new SilentMeter();
  checkName(name);
  if (await controlAlive(controlSocketPath(h, name))) throw new UserError(`a node is running for ${name}; it fetches from its peers by itself (see basefs members ${name}), or stop it first`);
  const dir = fsDir(h, name);
  const existed = existsSync(join(dir, 'log'));
  const fs = await Filesystem.open(h, name, kp, { allowEmpty: true });
  let net: NetNode | null = null;
  let discard = false; // a new log we were not told to trust is removed, not kept
  const t0 = Date.now();
  try {
    if (fs.dag.fsId) {
      const bn = fs.dag.get(fs.dag.fsIdHex)!.entry.name;
      if (bn !== name) throw new UserError(`local filesystem ${name} holds the log of "${bn}"; it cannot be mixed with another`);
      if (trust.id && trust.id !== fs.dag.fsIdHex) throw new UserError(`local filesystem ${name} is id ${fs.dag.fsIdHex}, not ${trust.id}; it cannot be mixed with another`);
    } else if (!trust.id && !trust.yes && !trust.ask) {
      throw new UserError(`basefs get ${name} ${addr} would accept any filesystem the peer calls "${name}"; pin the one you mean with --id FSID (shown by basefs status ${name} or basefs list on a machine that has it), or pass --yes to trust the peer (on a terminal basefs asks instead)`);
    }
    const pinned = !fs.dag.fsId ? trust.id : undefined;
    net = await startNetwork(fs, { port: 0, host: '0.0.0.0', join: [], mdns: false, home: h, listen: false, fetchContent: false, autoConnect: false });
    let peer: string;
    try {
      peer = await net.connect(addr, 20_000);
    } catch (e) {
      const ma = toMultiaddr(addr, defaultPort(name)).toString();
      throw new UserError(`cannot connect to ${addr} (${ma}): ${(e as Error).message}; is a node running there (basefs run ${name} or basefs mount) and is the port right?`);
    }
    const before = fs.dag.size;
    const p = meter('entries');
    let total: PullResult = { peerName: '', peerFsId: '', peerEntries: 0, peerHeads: [], received: 0, accepted: 0, duplicates: 0, rejected: 0, rejectReasons: [], parked: 0, rounds: 0, bytesIn: 0, bytesOut: 0, complete: false, incomplete: 'nothing fetched' };
    const deadline = t0 + timeoutSec * 1000;
    const stopped = (why: string) => new UserError(`get ${name} from ${addr} stopped: ${why}; what was fetched is kept (${fs.dag.size} entries); run the same command again to continue, or try another peer`, 'EIO');
    for (let attempt = 0; attempt < 5; attempt++) {
      const base = total.received;
      if (Date.now() >= deadline) throw stopped(`the overall timeout (${timeoutSec} s) passed`);
      const r = await net.syncWith(peer, {
        expectName: name,
        ...(pinned ? { expectFsId: pinned } : {}),
        timeoutMs: 120_000,
        sessionMs: deadline - Date.now(),
        onHello: () => {},
        onProgress: (pr) => p.update(fs.dag.size - before, Math.max(0, (total.peerEntries || 0) - before, pr.expected), { bytes: pr.bytes }),
      }).catch((e) => {
        p.stop();
        if (e instanceof UserError) throw e;
        throw stopped((e as Error).message);
      });
      total = { ...r, received: base + r.received, accepted: total.accepted + r.accepted, rejected: total.rejected + r.rejected, parked: r.parked };
      if (r.complete || r.accepted === 0) break;
    }
    p.update(fs.dag.size - before, Math.max(fs.dag.size - before, 1));
    p.stop();
    if (!fs.dag.fsId) throw new UserError(`the peer at ${addr} sent no log for ${name}`);
    const boot = fs.dag.get(fs.dag.fsIdHex)!.entry;
    if (boot.name !== name) throw new UserError(`the log fetched from ${addr} is filesystem "${boot.name}", not "${name}"`);
    if (!existed) {
      // The id is the hash of the bootstrap entry, so it names the root key and the whole log.
      const who = `filesystem ${name}\n  id        ${fs.dag.fsIdHex}\n  root key  ${formatPublicKey(boot.author)} (fingerprint ${fingerprint(boot.author)})`;
      if (pinned && fs.dag.fsIdHex !== pinned) {
        discard = true;
        throw new UserError(`the peer at ${addr} served filesystem id ${fs.dag.fsIdHex}, not the id you pinned (${pinned}); nothing was kept`);
      }
      if (!pinned && !trust.yes) {
        if (!(await trust.ask!(who, addr))) {
          discard = true;
          throw new UserError(`not trusted; nothing was kept. Compare the id with basefs status ${name} on a machine you trust and pass it with --id`);
        }
      } else if (!pinned) view.trusting?.(who);
    }
    if (total.rejected) view.rejected?.(total.rejected, total.rejectReasons);
    if (!total.complete) throw stopped(`the log is incomplete: ${total.incomplete}`);
    // content of every file in the view; the meter counts bytes, which move with every chunk
    // (a file only counts as done once all its chunks are in, which is near the end)
    const files = fs.contentFiles();
    const roots = files.map((f) => f.root);
    let need = 0;
    for (const f of files) if ((await fs.content.missing(f.root)).length > 0) need += f.size;
    const cp = meter('content');
    let done = 0;
    let chunks = 0;
    let cbytes = 0;
    const left = await net.content.fetchMany(roots, peer, (b) => {
      chunks++;
      cbytes += b;
      cp.update(cbytes, need, { files: { done, of: roots.length } });
    }, () => {
      done++;
      cp.update(cbytes, need, { files: { done, of: roots.length } });
    });
    if (cbytes > 0) cp.stop();
    const secs = (Date.now() - t0) / 1000;
    const accepted = fs.dag.size - before;
    return {
      name, fsId: fs.dag.fsIdHex, peer, entries: fs.dag.size, received: total.received, accepted, rejected: total.rejected, parked: fs.dag.parked.size,
      files: roots.length, filesIncomplete: left.length, chunks, contentBytes: cbytes, seconds: secs,
      entriesSeconds: p.elapsed(), entriesPerSec: accepted / Math.max(p.elapsed(), 0.001),
      contentSeconds: cp.elapsed(), contentBytesPerSec: cbytes / Math.max(cp.elapsed(), 0.001),
    };
  } catch (e) {
    if (net) await net.stop().catch(() => {});
    net = null;
    const empty = fs.dag.size === 0;
    await fs.close();
    if (!existed && (empty || discard || e instanceof FsIdMismatchError)) {
      rmSync(dir, { recursive: true, force: true });
      const parent = join(h, 'fs');
      try { if (readdirSync(parent).length === 0) rmSync(parent, { recursive: true }); } catch { /* keep */ }
    }
    throw e;
  } finally {
    if (net) {
      await net.stop().catch(() => {});
      await fs.close();
    }
  }
}
