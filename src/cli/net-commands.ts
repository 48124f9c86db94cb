import { existsSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Filesystem } from '../node/filesystem.ts';
import { checkName, controlSocketPath, fsDir, defaultPort, requireFs } from '../node/datadir.ts';
import { callControl, controlAlive } from '../node/control.ts';
import { startNode } from '../daemon/runtime.ts';
import { UserError } from '../errors/errors.ts';
import { startNetwork, type NetNode } from '../network/node.ts';
import { FsIdMismatchError, type PullResult } from '../network/sync.ts';
import { formatPublicKey, fingerprint } from '../crypto/keys.ts';
import { createInterface } from 'node:readline/promises';
import { toMultiaddr } from '../network/addr.ts';
import { globals, home, maybeKey } from './context.ts';
import { daemonize, nodeLogPath, untilSignal } from './daemon.ts';
import { out, bytes, esc, escLines } from './format.ts';
import { Progress } from './progress.ts';

// A yes/no question on the terminal (stdin and stderr), default no.
async function askTerminal(q: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(q)).trim());
  } finally {
    rl.close();
  }
}

function parseJoin(s: string | undefined, name: string): string[] {
  if (!s) return [];
  const list = s.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of list) toMultiaddr(a, defaultPort(name)); // validate now, with a clear error
  return list;
}

function parsePort(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`bad port ${s}: give 0-65535 (0 = any free port)`);
  return n;
}

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
  entriesSeconds: number; // the entries phase, as timed by its progress bar
  entriesPerSec: number; // new entries / entriesSeconds: the rate the bar showed
  contentSeconds: number;
  contentBytesPerSec: number;
}

// `basefs get`: fetch and verify a whole log (and the content of the files in its view) from
// one peer. Resumable: a rerun offers what is already stored and fetches the rest.
// Which filesystem `get` may accept: pinned by id, confirmed on the terminal, or (--yes)
// whatever the peer serves under that name.
export interface Trust {
  id?: string; // full fsId, 64 hex digits
  yes?: boolean;
  ask?: (q: string) => Promise<boolean>; // a terminal to ask on
}

export function parseFsId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(t)) throw new UserError(`bad --id: give the full filesystem id (64 hex digits) as shown by basefs status NAME on a machine that has it`);
  return t;
}

export async function getFilesystem(h: string, name: string, addr: string, kp: ReturnType<typeof maybeKey>, quiet: boolean, timeoutSec = 1800, trust: Trust = { yes: true }): Promise<GetSummary> {
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
    const p = new Progress('entries', (n) => String(n), quiet);
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
        onProgress: (pr) => p.update(fs.dag.size - before, Math.max(0, (total.peerEntries || 0) - before, pr.expected), `${bytes(pr.bytes)}`),
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
        if (!(await trust.ask!(`${escLines(who)}\nserved by ${esc(addr)}. Trust it (the root key decides who may write)? [y/N] `))) {
          discard = true;
          throw new UserError(`not trusted; nothing was kept. Compare the id with basefs status ${name} on a machine you trust and pass it with --id`);
        }
      } else if (!pinned && !quiet) process.stderr.write(`basefs: trusting (--yes) ${escLines(who)}\n`);
    }
    if (total.rejected) process.stderr.write(`basefs: warning: the peer sent ${total.rejected} entries that failed verification (${total.rejectReasons.map(esc).join('; ')}); they were dropped\n`);
    if (!total.complete) throw stopped(`the log is incomplete: ${total.incomplete}`);
    // content of every file in the view; the bar counts bytes, which move with every chunk
    // (a file only counts as done once all its chunks are in, which is near the end)
    const files = fs.contentFiles();
    const roots = files.map((f) => f.root);
    let need = 0;
    for (const f of files) if ((await fs.content.missing(f.root)).length > 0) need += f.size;
    const cp = new Progress('content', bytes, quiet);
    let done = 0;
    let chunks = 0;
    let cbytes = 0;
    const left = await net.content.fetchMany(roots, peer, (b) => {
      chunks++;
      cbytes += b;
      cp.update(cbytes, need, `files ${done}/${roots.length}`);
    }, () => {
      done++;
      cp.update(cbytes, need, `files ${done}/${roots.length}`);
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

export function registerNetCommands(program: Command): void {
  program
    .command('get <name> <addr>')
    .description('fetch the whole log of NAME and its content from a peer (ADDR: ip, ip:port or multiaddr), verifying every entry; resumable. Pin the filesystem with --id FSID; without it basefs shows the id and root key and asks (on a terminal) or needs --yes')
    .option('-q, --quiet', 'no progress output')
    .option('--timeout <seconds>', 'give up after this long in all (what was fetched is kept)', '1800')
    .option('--id <fsid>', 'accept only the filesystem with this id (64 hex digits, from basefs status NAME or basefs list on a machine that has it)')
    .option('-y, --yes', 'accept whatever filesystem the peer serves under NAME (without --id, and not on a terminal)')
    .action(async (name: string, addr: string, o: { quiet?: boolean; timeout: string; id?: string; yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const h = home(g);
      const secs = Number(o.timeout);
      if (!Number.isFinite(secs) || secs <= 0) throw new UserError(`--timeout must be a positive number of seconds, not "${o.timeout}"`);
      const trust: Trust = { id: parseFsId(o.id), yes: !!o.yes, ask: process.stdin.isTTY && process.stderr.isTTY ? askTerminal : undefined };
      const s = await getFilesystem(h, name, addr, maybeKey(g), !!o.quiet || !!g.json, secs, trust);
      out(g.json, s, () => [
        `fetched ${name} from ${addr} in ${s.seconds.toFixed(1)} s`,
        `  entries  ${s.entries} (${s.accepted} new in ${s.entriesSeconds.toFixed(1)} s, ${s.entriesPerSec.toFixed(0)}/s)`,
        `  content  ${s.files} files, ${bytes(s.contentBytes)} transferred in ${s.contentSeconds.toFixed(1)} s (${bytes(Math.round(s.contentBytesPerSec))}/s)`,
        `  id ${s.fsId}`,
        ...(s.parked ? [`  ${s.parked} entries still wait for deps; run the same command again to continue`] : []),
        ...(s.filesIncomplete ? [`  ${s.filesIncomplete} files are incomplete; run the same command again to continue (or start the node: it keeps fetching)`] : []),
        `next: basefs run ${name}        (node without FUSE)`,
        `      basefs mount ${name} DIR  (node + mounted view)`,
      ].join('\n'));
    });

  program
    .command('run <name>')
    .description('run the node of NAME without FUSE (servers, containers); in the background unless -f')
    .option('-f, --foreground', 'stay in the foreground until SIGINT/SIGTERM')
    .option('-j, --join <addrs>', 'comma-separated addresses to dial (ip, ip:port or multiaddr)')
    .option('--port <n>', 'listen port (default: derived from the name, or the last one used)')
    .option('--host <ip>', 'listen address', '0.0.0.0')
    .option('--no-mdns', 'do not announce or discover peers on the LAN')
    .action(async (name: string, o: { foreground?: boolean; join?: string; port?: string; host: string; mdns: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const h = home(g);
      checkName(name);
      requireFs(h, name);
      const join = parseJoin(o.join, name);
      const port = parsePort(o.port);
      const sock = controlSocketPath(h, name);
      if (await controlAlive(sock)) throw new UserError(`a node is already running for ${name} (control socket ${sock}); stop it with basefs stop ${name}`, 'EBUSY');
      if (!o.foreground) {
        const args = ['--data-dir', h, ...(g.key ? ['--key', g.key] : []), 'run', name, ...(o.join ? ['-j', o.join] : []), ...(o.port ? ['--port', o.port] : []), '--host', o.host, ...(o.mdns ? [] : ['--no-mdns'])];
        const log = nodeLogPath(fsDir(h, name));
        const pid = await daemonize(args, sock, log);
        const r = (await callControl(sock, 'resources', [], 10_000)) as { node: { peerId: string; addrs: string[] } | null };
        out(g.json, { name, pid, peerId: r.node?.peerId ?? null, addrs: r.node?.addrs ?? [], log }, () =>
          `node for ${name} running in the background (pid ${pid}, log ${log})\n  peer id  ${r.node?.peerId}\n${(r.node?.addrs ?? []).map((a) => `  listen   ${a}`).join('\n')}\nstop it with: basefs stop ${name}  (same as basefs unmount ${name})`);
        return;
      }
      const node = await startNode({ home: h, name, kp: maybeKey(g), port, join, listenHost: o.host, mdns: o.mdns });
      const info = { name, pid: process.pid, peerId: node.net?.peerId ?? null, addrs: node.net?.addrs() ?? [] };
      out(g.json, info, () => `node for ${name} running (pid ${process.pid}); Ctrl-C or basefs stop ${name} stops it\n  peer id  ${info.peerId}\n${info.addrs.map((a) => `  listen   ${a}`).join('\n')}`);
      await untilSignal(() => node.stop());
      // libp2p may leave sockets closing in the background; do not wait on them forever
      setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    });
}
