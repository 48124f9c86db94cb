import type { Command } from 'commander';
import { checkName, controlSocketPath, fsDir, defaultPort, requireFs } from '../node/datadir.ts';
import { callControl, controlAlive } from '../node/control.ts';
import { startNode } from '../daemon/runtime.ts';
import { UserError } from '../errors/errors.ts';
import { getFilesystem, type GetView, type Trust } from '../network/get.ts';
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

export function parseFsId(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(t)) throw new UserError(`bad --id: give the full filesystem id (64 hex digits) as shown by basefs status NAME on a machine that has it`);
  return t;
}

// How `basefs get` shows itself on stderr: a progress bar (or tenth-lines) per phase, and the
// notices, with names from the peer escaped.
function getView(quiet: boolean): GetView {
  return {
    meter: (phase) => {
      const p = new Progress(phase, phase === 'entries' ? (n) => String(n) : bytes, quiet);
      return {
        update: (value, total, d) => p.update(value, total, d?.bytes !== undefined ? bytes(d.bytes) : d?.files ? `files ${d.files.done}/${d.files.of}` : ''),
        stop: () => p.stop(),
        elapsed: () => p.elapsed(),
      };
    },
    trusting: (who) => {
      if (!quiet) process.stderr.write(`basefs: trusting (--yes) ${escLines(who)}\n`);
    },
    rejected: (count, reasons) => {
      process.stderr.write(`basefs: warning: the peer sent ${count} entries that failed verification (${reasons.map(esc).join('; ')}); they were dropped\n`);
    },
  };
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
      const ask = (who: string, from: string) => askTerminal(`${escLines(who)}\nserved by ${esc(from)}. Trust it (the root key decides who may write)? [y/N] `);
      const trust: Trust = { id: parseFsId(o.id), yes: !!o.yes, ask: process.stdin.isTTY && process.stderr.isTTY ? ask : undefined };
      const s = await getFilesystem(h, name, addr, maybeKey(g), { timeoutSec: secs, trust, view: getView(!!o.quiet || !!g.json) });
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
