import { join } from 'node:path';
import type { Socket } from 'node:net';
import { isUnder, normalizePath } from '../log/path.ts';
import type { Filesystem } from './filesystem.ts';
import { JournalGoneError, type Change } from './journal.ts';
import { ensureDir, fsDir, readSettings } from './datadir.ts';
import { readHooks, writeHooks, newHook, findHook, type Hook, type HookSpec, type RunResult } from './hookconfig.ts';
import { runHook } from './hookrun.ts';
import type { StreamHandlers } from './control.ts';

// Runs hooks (hookconfig.ts) on a running node. A hook runs when valid changes land under its
// path (the journal's 'changes', so local and remote writes alike, never invalid entries):
// debounced (each change restarts the wait, but never longer than MAX_WAIT_FACTOR debounces
// after the first), never two runs of one hook at once (changes during a run make one more run
// after it), a failed run retried with backoff. Each hook keeps the cursor of the last change
// it handled, saved after each run: at start, the changes after it (made while the node was
// down, or by the CLI on the stopped log) make one run; those anti-entropy brings right after
// start arrive as changes like any other. Before a run, the content of changed files is
// awaited (fetched from peers), so the command sees the new content.
const MAX_PATHS = 10_000; // changed paths remembered per pending run; beyond, the hook's path stands for all
const MAX_WAIT_FACTOR = 10;
const MAX_BACKOFF_MS = 300_000;
const CONTENT_WAIT_MS = 30_000;
const STOP_GRACE_MS = 10_000; // a run still going this long after stop begins is ended
export const FAILING_AFTER = 3; // consecutive failures before status reports a hook

interface Live {
  h: Hook;
  pending: Set<string>;
  upTo: number; // newest cursor among pending changes
  since: number; // when the first pending change came (Date.now), 0: none
  timer: NodeJS.Timeout | null;
  running: Promise<RunResult> | null;
  retrying: boolean;
}

export class HookManager {
  private fs: Filesystem;
  private home: string;
  private live = new Map<string, Live>();
  private stopped = false;
  private stopping = new AbortController();
  private onChanges = (cs: Change[]) => this.changed(cs);

  constructor(fs: Filesystem, home: string) {
    this.fs = fs;
    this.home = home;
  }

  // Loads the hooks and schedules one run of each hook whose path changed since its cursor.
  async start(): Promise<void> {
    for (const h of readHooks(this.home, this.fs.name)) this.live.set(h.name, this.fresh(h));
    this.fs.on('changes', this.onChanges);
    for (const l of this.live.values()) await this.catchUp(l);
  }

  private fresh(h: Hook): Live {
    return { h, pending: new Set(), upTo: h.cursor, since: 0, timer: null, running: null, retrying: false };
  }

  private async catchUp(l: Live): Promise<void> {
    let after = l.h.cursor;
    try {
      for (;;) {
        const page = await this.fs.journal.read(after, 1000, this.fs.name);
        if (!page.length) break;
        this.note(l, page);
        after = page[page.length - 1].cursor;
      }
    } catch (e) {
      if (e instanceof JournalGoneError) {
        this.pend(l, l.h.path, this.fs.journal.durable); // the changes are gone: all of it may have changed
        this.log(l.h, `its cursor ${l.h.cursor} is older than the journal keeps; running it for all of ${l.h.path}`);
      } else if ((e as { code?: string }).code === 'ERANGE') {
        // A cursor ahead of the journal: the data directory was replaced (basefs get again).
        this.log(l.h, `its cursor ${l.h.cursor} is ahead of the journal (${this.fs.journal.durable}); running it for all of ${l.h.path}`);
        l.h.cursor = 0;
        this.pend(l, l.h.path, this.fs.journal.durable);
      } else throw e;
    }
    if (l.pending.size) this.schedule(l);
    else l.h.cursor = after;
  }

  private changed(cs: Change[]): void {
    for (const l of this.live.values()) {
      if (this.note(l, cs)) this.schedule(l);
      else if (!l.pending.size && !l.running) l.h.cursor = Math.max(l.h.cursor, cs[cs.length - 1].cursor); // nothing to do up to here (saved with the next run or at stop)
    }
  }

  // Adds the changes under the hook's path to its pending run; whether there were any.
  private note(l: Live, cs: Change[]): boolean {
    let any = false;
    for (const c of cs) {
      if (c.cursor <= l.h.cursor || !isUnder(c.path, l.h.path)) continue;
      this.pend(l, c.path, c.cursor);
      any = true;
    }
    return any;
  }

  private pend(l: Live, path: string, cursor: number): void {
    if (l.pending.size < MAX_PATHS) l.pending.add(path);
    else if (!l.pending.has(l.h.path)) l.pending.add(l.h.path);
    l.upTo = Math.max(l.upTo, cursor);
    if (!l.since) l.since = Date.now();
  }

  private schedule(l: Live, delay?: number): void {
    if (this.stopped || l.retrying || this.live.get(l.h.name) !== l) return; // a retry is already planned (it takes the new changes too), or the hook was removed
    if (l.timer) clearTimeout(l.timer);
    const d = l.h.debounceMs;
    const wait = delay ?? Math.max(0, Math.min(d, l.since + d * MAX_WAIT_FACTOR - Date.now()));
    l.timer = setTimeout(() => {
      l.timer = null;
      l.retrying = false;
      // While a run goes on, the end of that run schedules the next; with nothing pending, a
      // manual run took the changes.
      if (l.pending.size && !l.running) void this.fire(l, 'change');
    }, wait);
  }

  // Runs the hook now for what is pending (one run at a time: while one runs, the next waits).
  private async fire(l: Live, trigger: RunResult['trigger']): Promise<RunResult> {
    while (l.running) await l.running.catch(() => {});
    if (l.timer) {
      clearTimeout(l.timer);
      l.timer = null;
    }
    const paths = l.pending.size ? [...l.pending] : [l.h.path];
    const upTo = Math.max(l.upTo, l.h.cursor);
    l.pending = new Set();
    l.since = 0;
    const p = this.execute(l, paths, upTo, trigger);
    l.running = p;
    try {
      return await p;
    } finally {
      l.running = null;
      if (l.pending.size && !l.retrying && !this.stopped) this.schedule(l);
    }
  }

  private async execute(l: Live, paths: string[], upTo: number, trigger: RunResult['trigger']): Promise<RunResult> {
    await this.contentHere(paths);
    const runDir = join(fsDir(this.home, this.fs.name), 'run');
    ensureDir(runDir);
    const r = await runHook(l.h, { fsName: this.fs.name, home: this.home, mount: readSettings(this.home, this.fs.name).mountpoint ?? '', runDir, paths, cursor: upTo, trigger, signal: this.stopping.signal });
    l.h.last = r;
    if (r.status === 'ok') {
      l.h.failures = 0;
      l.h.cursor = Math.max(l.h.cursor, upTo);
    } else {
      l.h.failures++;
      // Retried with the same changes (and any that come meanwhile), after a growing pause.
      for (const q of paths) this.pend(l, q, upTo);
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(l.h.failures - 1, 20));
      if (!this.stopped) {
        this.schedule(l, backoff);
        l.retrying = true;
      }
    }
    const lastLine = r.tail.trimEnd().split('\n').pop() ?? '';
    const retry = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(l.h.failures - 1, 20)) / 1000;
    this.log(l.h, `${r.status}: ${r.message} (${r.durationMs} ms, ${r.paths} changed path${r.paths === 1 ? '' : 's'}, cursor ${r.cursor}, ${r.outputBytes} bytes of output)${r.status === 'ok' ? '' : `; retry ${l.h.failures} in ${retry} s${lastLine ? `; last output: ${lastLine.slice(0, 200)}` : ''}`}`);
    this.save();
    return r;
  }

  // Waits (bounded) until the content of the changed files is on this node: a write from a
  // peer arrives as an entry first and its chunks after.
  private async contentHere(paths: string[]): Promise<void> {
    if (paths.length > 1000) return;
    const end = Date.now() + CONTENT_WAIT_MS;
    for (const p of paths) {
      for (;;) {
        const n = this.fs.state.lookup(p);
        if (!n || n.type !== 'file' || !n.root) break;
        if ((await this.fs.content.missing(n.root)).length === 0) break;
        if (Date.now() > end || this.stopped) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private log(h: Hook, msg: string): void {
    process.stderr.write(`basefs: hook ${h.name} (${this.fs.name}:${h.path}): ${msg.replace(/[\x00-\x1f\x7f]/g, ' ')}\n`);
  }

  private save(): void {
    try {
      writeHooks(this.home, this.fs.name, [...this.live.values()].map((l) => l.h));
    } catch (e) {
      process.stderr.write(`basefs: cannot save the hook configuration: ${(e as Error).message}\n`);
    }
  }

  list(): Hook[] {
    return [...this.live.values()].map((l) => ({ ...l.h, running: !!l.running, pending: l.pending.size }) as Hook);
  }

  // Hooks that keep failing, for status.
  failing(): { name: string; failures: number; last: string }[] {
    return [...this.live.values()].filter((l) => l.h.failures >= FAILING_AFTER).map((l) => ({ name: l.h.name, failures: l.h.failures, last: l.h.last?.message ?? '' }));
  }

  add(spec: HookSpec): Hook {
    const h = newHook({ ...spec, path: normalizePath(spec.path) }, [...this.live.values()].map((l) => l.h), this.fs.journal.durable);
    this.live.set(h.name, this.fresh(h));
    this.save();
    return h;
  }

  remove(name: string): Hook {
    const l = this.live.get(name);
    const h = findHook([...this.live.values()].map((x) => x.h), name, this.fs.name);
    if (l?.timer) clearTimeout(l.timer);
    this.live.delete(name);
    this.save();
    return h;
  }

  async runNow(name: string): Promise<RunResult> {
    const h = findHook([...this.live.values()].map((x) => x.h), name, this.fs.name);
    const l = this.live.get(h.name)!;
    l.retrying = false;
    return this.fire(l, 'manual');
  }

  // The hook methods of the control socket (owner only): one request, one answer.
  handlers(): StreamHandlers {
    const one = (fn: (params: unknown[]) => unknown) => (params: unknown[], sock: Socket, id: unknown) => {
      void (async () => fn(params))().then(
        (result) => sock.end(JSON.stringify({ id, result }) + '\n'),
        (e: Error & { code?: string }) => sock.end(JSON.stringify({ id, error: { message: e.message, code: typeof e.code === 'string' ? e.code : 'EINVAL' } }) + '\n'),
      );
    };
    return {
      hookAdd: one((p) => this.add(p[0] as HookSpec)),
      hookList: one(() => this.list()),
      hookRm: one((p) => this.remove(String(p[0]))),
      hookRun: one((p) => this.runNow(String(p[0]))),
    };
  }

  // Stops scheduling; waits for runs in progress (each ends by its own timeout), saves cursors.
  async stop(): Promise<void> {
    this.stopped = true;
    this.fs.off('changes', this.onChanges);
    for (const l of this.live.values()) if (l.timer) clearTimeout(l.timer);
    const runs = Promise.all([...this.live.values()].map((l) => l.running?.catch(() => {})));
    let t: NodeJS.Timeout | undefined;
    await Promise.race([runs, new Promise<void>((r) => (t = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(t);
    this.stopping.abort();
    await runs;
    this.save();
  }
}
