import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { controlSocketPath, readSettings, writeSettings, requireFs, checkName, listNames, fsDir, type NodeSettings } from '../node/datadir.ts';
import { controlAlive, callControl } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import { globals, home, maybeKey } from './context.ts';
import { daemonize, nodeLogPath, untilSignal } from './daemon.ts';
import { out } from './format.ts';

function parseJoin(s: string | undefined): string[] {
  if (!s) return [];
  return s.split(',').map((a) => a.trim()).filter(Boolean).map((a) => {
    if (a.startsWith('/')) return a;
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(a);
    if (!m) throw new UserError(`bad address "${a}": expected ip, ip:port or a multiaddr`);
    return a;
  });
}

function parsePort(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`bad port ${s}: give 0-65535 (0 = any free port)`);
  return n;
}

// Running (a zombie waiting for a slow init to reap it counts as gone).
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// NAME, or a mount point recorded for one of the local filesystems.
function resolveName(h: string, arg: string): string {
  if (arg.includes('/') || (existsSync(arg) && !listNames(h).includes(arg))) {
    const abs = resolve(arg);
    for (const n of listNames(h)) if (readSettings(h, n).mountpoint === abs) return n;
    throw new UserError(`${abs} is not the mount point of a filesystem in ${h}; give its NAME`);
  }
  checkName(arg);
  return arg;
}

export function registerMountCommands(program: Command): void {
  program
    .command('mount <name> <dir>')
    .description('start the node of NAME and mount it at DIR with FUSE; in the background unless -f')
    .option('-f, --foreground', 'stay in the foreground, logging to stderr; Ctrl-C unmounts')
    .option('-j, --join <addrs>', 'comma-separated ip[:port] or multiaddrs of peers to dial')
    .option('--port <n>', 'TCP port to listen on (default: derived from NAME; 0 = any free port)')
    .option('--host <ip>', 'listen address', '0.0.0.0')
    .option('--no-mdns', 'do not announce or discover peers on the LAN')
    .option('--local', 'no networking at all: a single-node mount (tests, offline use)')
    .option('--debug-fuse', 'log every FUSE request (very verbose)')
    .option('--allow-other', 'let other local users use the mount, the kernel checking the modes shown (default_permissions); a non-root user needs user_allow_other in /etc/fuse.conf')
    .addHelpText('after', `
Inside the mount:
  DIR/.snap/LABEL       read-only snapshot; mkdir DIR/.snap/LABEL takes one (= basefs snapshot)
  DIR/.conflicts/PATH/  conflict losers of PATH, one entry per losing version (id prefix)
Both are hidden from directory listings; see docs/FUSE.md. Stop with: basefs unmount NAME`)
    .action(async (name: string, dir: string, o: { foreground?: boolean; join?: string; port?: string; host: string; mdns: boolean; local?: boolean; debugFuse?: boolean; allowOther?: boolean }, cmd: Command) => {
      // chunk reads and writes run on the libuv pool; 4 threads starve parallel reads. Read by
      // libuv when the pool first starts, which has not happened yet in this process.
      process.env.UV_THREADPOOL_SIZE ??= '16';
      const g = globals(cmd);
      const h = home(g);
      checkName(name);
      requireFs(h, name);
      const abs = resolve(dir);
      const join = parseJoin(o.join);
      const port = parsePort(o.port);
      const sock = controlSocketPath(h, name);
      if (await controlAlive(sock)) {
        const mp = readSettings(h, name).mountpoint;
        throw new UserError(`a node is already running for ${name}${mp ? ` (mount point ${mp})` : ''}; stop it with basefs unmount ${name}`, 'EBUSY');
      }
      const { prepareMountpoint, mountAt } = await import('../fuse/mount.ts');
      if (!existsSync('/dev/fuse')) throw new UserError(`/dev/fuse is missing: FUSE is not available here; use basefs run ${name} for a node without a mount`);
      if (o.allowOther) checkAllowOther();
      prepareMountpoint(abs); // fail early, before forking
      if (!o.foreground) {
        const log = nodeLogPath(fsDir(h, name));
        const pid = await daemonize(process.argv.slice(2), sock, log);
        const deadline = Date.now() + 60_000;
        while (!mountAt(abs)) {
          if (!alive(pid) || Date.now() > deadline) {
            const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
            throw new UserError(`the node started but the mount at ${abs} did not appear${alive(pid) ? ' within 60 s' : ' (the node exited)'}; log ${log}:\n${tail}`);
          }
          await sleep(50);
        }
        out(g.json, { name, mountpoint: abs, pid, log }, () => `mounted ${name} at ${abs} (node pid ${pid}, log ${log}); stop with: basefs unmount ${name}`);
        return;
      }
      await runMounted(g, h, name, abs, { join, port, host: o.host, mdns: o.mdns, local: !!o.local, debug: !!o.debugFuse, allowOther: !!o.allowOther });
    });

  program
    .command('unmount <name>')
    .alias('stop')
    .description('stop the node of NAME (or of the mount point given), mounted or started with run: commit open files, unmount, exit')
    .option('--force', 'if the node does not stop within the timeout, kill it and detach the mount')
    .option('--timeout <sec>', 'how long to wait for a clean stop', '60')
    .action(async (arg: string, o: { force?: boolean; timeout: string }, cmd: Command) => {
      const g = globals(cmd);
      const h = home(g);
      const name = resolveName(h, arg);
      requireFs(h, name);
      const sock = controlSocketPath(h, name);
      const mp = readSettings(h, name).mountpoint;
      const { mountAt, lazyUnmount } = await import('../fuse/mount.ts');
      if (!(await controlAlive(sock))) {
        if (mp && mountAt(mp)) {
          if (!lazyUnmount(mp)) throw new UserError(`no node is running for ${name} and the stale mount at ${mp} could not be detached; run: fusermount -uz ${mp}`);
          out(g.json, { name, mountpoint: mp, stale: true }, () => `no node was running for ${name}; detached the stale mount at ${mp}`);
          return;
        }
        throw new UserError(`${name} is not mounted: no node is running for it`);
      }
      const r = (await callControl(sock, 'resources', [], 10_000)) as { pid: number };
      const pid = r.pid;
      // A node started with `run` has no mount: say "stopped", not "unmounted".
      const mounted = !!(mp && mountAt(mp));
      process.kill(pid, 'SIGTERM');
      const limit = Number(o.timeout) * 1000;
      const deadline = Date.now() + (Number.isFinite(limit) && limit > 0 ? limit : 60_000);
      while (alive(pid) && Date.now() < deadline) await sleep(50);
      if (alive(pid)) {
        if (!o.force) throw new UserError(`the node of ${name} (pid ${pid}) did not stop within ${o.timeout} s; retry with --force to kill it`);
        process.kill(pid, 'SIGKILL');
        while (alive(pid)) await sleep(50);
      }
      if (mounted && mountAt(mp!)) lazyUnmount(mp!);
      out(g.json, { name, mountpoint: mounted ? mp : null, mounted, pid }, () => mounted ? `unmounted ${name} from ${mp} (node ${pid} stopped)` : `stopped the node of ${name} (pid ${pid}); it had no mount`);
    });
}

// fusermount refuses allow_other to a non-root user unless /etc/fuse.conf has a
// user_allow_other line; say so before forking instead of failing inside the node.
export function checkAllowOther(conf = '/etc/fuse.conf'): void {
  if (process.getuid?.() === 0) return;
  let text = '';
  try {
    text = readFileSync(conf, 'utf8');
  } catch { /* missing: the option is off */ }
  if (!text.split('\n').some((l) => l.trim() === 'user_allow_other')) {
    throw new UserError(`--allow-other needs the line user_allow_other in ${conf} for a mount by a non-root user (as root: echo user_allow_other >> ${conf}), or mount as root`, 'EPERM');
  }
}

// The foreground mount: node + FUSE in this process until SIGINT/SIGTERM or an external
// unmount (fusermount -u), then a clean stop: commit open files, unmount, close the log.
async function runMounted(g: ReturnType<typeof globals>, h: string, name: string, dir: string, o: { join: string[]; port?: number; host: string; mdns: boolean; local: boolean; debug: boolean; allowOther: boolean }): Promise<void> {
  const { startNode } = await import('../daemon/runtime.ts');
  const { mountFilesystem, mountAt } = await import('../fuse/mount.ts');
  const kp = maybeKey(g);
  const node = await startNode({ home: h, name, kp, port: o.port, join: o.join, listenHost: o.host, mdns: o.mdns, network: !o.local });
  let m;
  // The mount point is recorded before the kernel mount exists: a node killed at any moment
  // after it appears leaves a stale mount that `unmount NAME` and the next mount must find.
  writeSettings(h, name, { ...readSettings(h, name), mountpoint: dir } as NodeSettings);
  try {
    const net = node.net;
    m = await mountFilesystem(node.fs, dir, { debug: o.debug, allowOther: o.allowOther, fetch: net ? (root) => net.content.enqueue(root) : undefined });
  } catch (e) {
    writeSettings(h, name, { ...readSettings(h, name), mountpoint: undefined } as NodeSettings);
    await node.stop();
    throw e;
  }
  const mounted = m;
  node.onStop(() => mounted.unmount());
  process.stderr.write(`basefs: mounted ${name} at ${dir}${kp ? '' : ' read-only (no key)'}${mounted.utimensFixed ? '' : ' (utimens: mtime from atime, see docs/FUSE.md)'}; pid ${process.pid}\n`);
  let stopping = false;
  const watch = setInterval(() => {
    if (!stopping && !mountAt(dir)) {
      process.stderr.write(`basefs: ${dir} was unmounted from outside; stopping\n`);
      process.kill(process.pid, 'SIGTERM');
    }
  }, 2000);
  watch.unref();
  await untilSignal(async () => {
    stopping = true;
    const force = setTimeout(() => {
      process.stderr.write('basefs: clean stop took more than 120 s; exiting\n');
      process.exit(1);
    }, 120_000);
    force.unref();
    await node.stop();
  });
  clearInterval(watch);
  process.stderr.write(`basefs: unmounted ${name} from ${dir}\n`);
  process.exit(0);
}
