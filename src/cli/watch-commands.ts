import { createConnection } from 'node:net';
import type { Command } from 'commander';
import { controlSocketPath, requireFs } from '../node/datadir.ts';
import { controlAlive } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import { fingerprint, formatPublicKey } from '../crypto/keys.ts';
import { fromHex } from '../crypto/hash.ts';
import type { Change } from '../node/journal.ts';
import { globals, home, parseTarget } from './context.ts';
import { esc } from './format.ts';

// `basefs watch`: the changes a running node applies, from its journal (node/watch.ts has the
// protocol), one line each, with the cursor to resume from.

function parseCursor(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,15}$/.test(s)) throw new UserError(`bad cursor "${s}" for --since: give a number printed by basefs watch (its first column, or "cursor" with --json)`);
  return Number(s);
}

export function changeJson(c: Change): object {
  return { ...c, author: c.author ? formatPublicKey(fromHex(c.author)) : null, time: new Date(c.time).toISOString() };
}

export function changeLine(c: Change): string {
  const by = c.author ? ` by ${fingerprint(fromHex(c.author))}` : '';
  return `${c.cursor}\t${c.op}\t${esc(c.path)}\t${c.type} ${c.kind}${c.entry ? ' ' + c.entry.slice(0, 12) : ''}${by}${c.conflict ? ' (won a conflict)' : ''}`;
}

// Streams `method` from the node's control socket: calls onLine for every {id, ...} line until
// the node ends the stream; rejects with the node's error (or a lost connection).
export function streamControl(sock: string, method: string, params: unknown[], onLine: (o: Record<string, unknown>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createConnection(sock);
    let buf = '';
    let failed: Error | null = null;
    s.setEncoding('utf8');
    s.once('connect', () => s.write(JSON.stringify({ id: 1, method, params }) + '\n'));
    s.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const o = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (o.error) failed ??= new UserError(o.error.message, o.error.code);
        else if (!failed) onLine(o);
      }
    });
    s.once('error', (e: NodeJS.ErrnoException) => reject(new UserError(`cannot reach the node's control socket ${sock}: ${e.message}`, e.code)));
    s.once('close', () => (failed ? reject(failed) : resolve()));
  });
}

export function registerWatchCommands(program: Command): void {
  program
    .command('watch <target>')
    .description('stream the changes a running node applies under NAME[:PATH], local and remote alike, one line each: CURSOR OP PATH TYPE KIND ENTRY by AUTHOR')
    .option('--since <cursor>', 'first replay the stored changes after CURSOR (none lost or repeated, across restarts), then go on live')
    .option('--no-follow', 'stop once the stored changes are printed instead of waiting for new ones')
    .addHelpText('after', `
Without --since, only changes from now on. A cursor older than the node's journal keeps (the
last 100,000 changes) is refused with the cursor to resync from; so is a watcher that stops
reading while more than 10,000 changes arrive (resume with --since). --json prints one JSON
object per line (cursor, path, op, type, kind, entry, old, new, author, conflict, time).`)
    .action(async (target: string, o: { since?: string; follow: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const h = home(g);
      const { name, path } = parseTarget(g, target);
      requireFs(h, name);
      const since = parseCursor(o.since);
      const sock = controlSocketPath(h, name);
      if (!(await controlAlive(sock))) throw new UserError(`no node is running for ${name}: watch streams the changes a running node applies; start one with basefs run ${name} (or basefs mount ${name} DIR), then watch again${since === undefined ? '' : ` with --since ${since}`}`, 'ENOTCONN');
      await streamControl(sock, 'watch', [{ path, since: since ?? null, follow: o.follow }], (m) => {
        if (m.change) process.stdout.write((g.json ? JSON.stringify(changeJson(m.change as Change)) : changeLine(m.change as Change)) + '\n');
        else if (m.start !== undefined && !g.json && process.stderr.isTTY) process.stderr.write(`watching ${esc(name)}:${esc(path)} after cursor ${m.start}\n`);
      });
    });
}
