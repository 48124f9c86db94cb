import { join } from 'node:path';
import type { Command } from 'commander';
import { controlSocketPath, requireFs, ensureDir, fsDir, readSettings } from '../node/datadir.ts';
import { callControl, controlAlive } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import { Filesystem } from '../node/filesystem.ts';
import { readHooks, writeHooks, newHook, findHook, type Hook, type RunResult } from '../node/hookconfig.ts';
import { runHook } from '../node/hookrun.ts';
import { globals, home, parseTarget, type Globals } from './context.ts';
import { esc, out } from './format.ts';
import { checkName } from '../node/datadir.ts';

// `basefs hook add/list/rm/run`: local hooks of a node (node/hookconfig.ts). With a node
// running, through its control socket (the node owns the configuration and runs the hooks);
// without one, on the configuration file (the next node start picks the hooks up).

type Op = 'hookAdd' | 'hookList' | 'hookRm' | 'hookRun';

async function viaNode<T>(g: Globals, name: string, op: Op, params: unknown[], offline: (h: string) => Promise<T>): Promise<T> {
  const h = home(g);
  checkName(name);
  requireFs(h, name);
  const sock = controlSocketPath(h, name);
  if (await controlAlive(sock)) return (await callControl(sock, op, params)) as T;
  return offline(h);
}

function intOpt(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(s)) throw new UserError(`bad ${what} "${s}": give a number`);
  return Number(s);
}

function lastSaid(r: RunResult | null): string {
  if (!r) return 'never ran';
  return `${r.status} (${esc(r.message)}) ${r.durationMs} ms at ${r.at.replace(/\.\d+Z$/, 'Z')}`;
}

function tailLines(r: RunResult | null, n: number): string[] {
  if (!r || !r.tail.trim()) return [];
  return r.tail.trimEnd().split('\n').slice(-n).map((l) => `      | ${esc(l)}`);
}

export function registerHookCommands(program: Command): void {
  const hook = program.command('hook').description('run local commands when a subtree changes (add, list, rm, run); local to this node, never in the log');

  hook
    .command('add <target>')
    .usage('NAME:/PATH [--name N] [--debounce MS] [--timeout S] -- CMD [ARGS...]')
    .description('run CMD (no shell; ARGS as given) whenever the view under NAME:/PATH changes by a valid entry, local or from a peer')
    .argument('[cmd...]', 'the command and its arguments, after --')
    .option('--name <n>', 'name of the hook (default: from the command)')
    .option('--debounce <ms>', 'wait this long after the last change before running (a burst runs it once or a few times)', '500')
    .option('--timeout <s>', 'kill the command (and what it started) after this many seconds', '60')
    .addHelpText('after', `
The command runs in the directory hook add was run in, with:
  BASEFS_NAME, BASEFS_HOME, BASEFS_MOUNT (mount point, empty without one), BASEFS_HOOK,
  BASEFS_PATH (the watched path), BASEFS_PATHS (changed paths, one per line; empty when
  more than 100), BASEFS_PATHS_FILE (a file listing them all), BASEFS_CHANGES (how many),
  BASEFS_CURSOR (the watch cursor they go up to), BASEFS_TRIGGER (change or manual).
Never two runs of one hook at once; a failed run is retried with backoff (1 s, 2 s, ... 5 min);
status reports a hook that keeps failing. Example:
  basefs hook add myfs:/etc/bird --name bird -- systemctl reload bird`)
    .action(async (target: string, cmdArgs: string[], o: { name?: string; debounce: string; timeout: string }, cmd: Command) => {
      const g = globals(cmd);
      const { name, path } = parseTarget(g, target);
      const spec = { name: o.name, path, cmd: cmdArgs, debounceMs: intOpt(o.debounce, '--debounce'), timeoutSec: intOpt(o.timeout, '--timeout'), cwd: process.cwd() };
      const h = await viaNode<Hook>(g, name, 'hookAdd', [spec], async (home_) => {
        const hooks = readHooks(home_, name);
        // The hook handles changes from now on: its cursor is the journal's newest.
        const fs = await Filesystem.open(home_, name, null, { lazy: true });
        let cursor: number;
        try {
          cursor = fs.journal.durable;
        } finally {
          await fs.close();
        }
        const nh = newHook(spec, hooks, cursor);
        writeHooks(home_, name, [...hooks, nh]);
        return nh;
      });
      out(g.json, h, () => `hook ${esc(h.name)} added: runs ${esc(h.cmd.join(' '))} when ${esc(name)}:${esc(h.path)} changes (debounce ${h.debounceMs} ms, timeout ${h.timeoutSec} s)`);
    });

  hook
    .command('list <name>')
    .description('the hooks of NAME: path, command, last run (status, exit, duration, output tail)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const hooks = await viaNode<(Hook & { running?: boolean })[]>(g, name, 'hookList', [], async (h) => readHooks(h, name));
      out(g.json, hooks, () => hooks.length === 0 ? `no hooks on ${esc(name)}; add one with basefs hook add ${esc(name)}:/PATH -- CMD` : hooks.map((h) => [
        `${esc(h.name)}  ${esc(name)}:${esc(h.path)}  debounce ${h.debounceMs} ms, timeout ${h.timeoutSec} s${h.running ? ', running now' : ''}`,
        `  command  ${esc(h.cmd.join(' '))}`,
        `  last     ${lastSaid(h.last)}${h.failures ? `; ${h.failures} failed run${h.failures > 1 ? 's' : ''} in a row` : ''}`,
        ...(h.last && h.last.outputBytes ? [`  output   ${h.last.outputBytes} bytes, last lines:`, ...tailLines(h.last, 5)] : []),
      ].join('\n')).join('\n'));
    });

  hook
    .command('rm <name> <hook>')
    .description('remove a hook (a run in progress finishes)')
    .action(async (name: string, hookName: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const h = await viaNode<Hook>(g, name, 'hookRm', [hookName], async (home_) => {
        const hooks = readHooks(home_, name);
        const gone = findHook(hooks, hookName, name);
        writeHooks(home_, name, hooks.filter((x) => x !== gone));
        return gone;
      });
      out(g.json, h, () => `hook ${esc(h.name)} removed from ${esc(name)}`);
    });

  hook
    .command('run <name> <hook>')
    .description('run a hook now (after the run in progress, if any) and print how it went; exit 1 if it failed')
    .action(async (name: string, hookName: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await viaNode<RunResult>(g, name, 'hookRun', [hookName], async (home_) => {
        const hooks = readHooks(home_, name);
        const h = findHook(hooks, hookName, name);
        const runDir = join(fsDir(home_, name), 'run');
        ensureDir(runDir);
        const res = await runHook(h, { fsName: name, home: home_, mount: readSettings(home_, name).mountpoint ?? '', runDir, paths: [h.path], cursor: h.cursor, trigger: 'manual' });
        h.last = res;
        writeHooks(home_, name, hooks);
        return res;
      });
      out(g.json, r, () => [`hook ${esc(hookName)}: ${r.status} (${esc(r.message)}) in ${r.durationMs} ms, ${r.outputBytes} bytes of output`, ...tailLines(r, 10)].join('\n'));
      if (r.status !== 'ok') process.exitCode = 1;
    });
}
