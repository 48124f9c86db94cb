import type { Socket } from 'node:net';
import { isUnder, normalizePath } from '../log/path.ts';
import type { Filesystem } from './filesystem.ts';
import type { StreamHandler } from './control.ts';

// `watch` over the control socket: {id, method: 'watch', params: [{path, since, follow}]} ->
//   {id, start: CURSOR}                 the cursor the stream starts after
//   {id, change: Change}*               every change under path with cursor > since, in order
//   {id, caught: CURSOR}                once the stored journal is all sent (then live, or the end
//                                       of the stream when follow is false)
//   {id, error: {message, code}}        and the end: cursor too old, watcher fell behind, node stopping
// Each session reads the journal from disk after the last cursor it sent, one page at a time,
// and only while the socket's buffer is below HIGH: a slow watcher costs the node at most HIGH
// bytes and never slows appends. A watcher whose buffer stays full while more than `maxLag`
// changes pile up behind it is told it fell behind (with the cursor to resume from) and cut off.
const HIGH = 256 * 1024;
const PAGE = 256;
export const MAX_LAG = 10_000;

export class WatchServer {
  private fs: Filesystem;
  private sessions = new Set<Session>();
  maxLag = MAX_LAG;
  cutOff = 0; // watchers told they fell behind (counted for resources and tests)

  constructor(fs: Filesystem) {
    this.fs = fs;
  }

  get handler(): StreamHandler {
    return (params, sock, id) => {
      const s = new Session(this.fs, sock, id, this.maxLag, () => this.cutOff++);
      this.sessions.add(s);
      void s.run(params[0]).finally(() => this.sessions.delete(s));
    };
  }

  // The node is stopping: every watcher hears where to resume.
  stop(): void {
    for (const s of this.sessions) s.fail(`the node of ${this.fs.name} stopped; resume with basefs watch --since ${s.sent}`, 'ESHUTDOWN');
  }
}

class Session {
  private fs: Filesystem;
  private sock: Socket;
  private id: unknown;
  private maxLag: number;
  sent = 0; // cursor of the last change read (sent, or skipped by the path filter)
  private closed = false;
  private wake: (() => void) | null = null;
  private onCut: () => void;

  constructor(fs: Filesystem, sock: Socket, id: unknown, maxLag: number, onCut: () => void) {
    this.fs = fs;
    this.sock = sock;
    this.id = id;
    this.maxLag = maxLag;
    this.onCut = onCut;
  }

  // Whether the watcher is not reading while too many changes wait behind it: then it is cut off.
  private behind(): boolean {
    if (this.sock.writableLength < HIGH || this.fs.journal.durable - this.sent <= this.maxLag) return false;
    this.onCut();
    this.fail(`the watcher fell behind: more than ${this.maxLag} changes waited while it did not read; resume with basefs watch --since ${this.sent}`, 'ENOBUFS');
    return true;
  }

  private send(o: object): void {
    if (!this.closed && !this.sock.destroyed) this.sock.write(JSON.stringify({ id: this.id, ...o }) + '\n');
  }

  fail(message: string, code: string): void {
    if (this.closed) return;
    this.send({ error: { message, code } });
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.end();
    // A watcher that never reads would keep the socket (and its buffer) forever.
    setTimeout(() => this.sock.destroy(), 5000).unref();
    this.wake?.();
  }

  private until(): Promise<void> {
    return new Promise((r) => {
      this.wake = () => {
        this.wake = null;
        r();
      };
    });
  }

  async run(p: unknown): Promise<void> {
    const onChanges = () => {
      if (!this.behind()) this.wake?.();
    };
    const onDrain = () => this.wake?.();
    this.sock.on('close', () => this.close());
    this.sock.on('error', () => this.close());
    this.sock.on('drain', onDrain);
    this.fs.on('changes', onChanges);
    try {
      const o = (p ?? {}) as { path?: unknown; since?: unknown; follow?: unknown };
      const path = normalizePath(typeof o.path === 'string' ? o.path : '/');
      if (o.since !== undefined && o.since !== null && (typeof o.since !== 'number' || !Number.isSafeInteger(o.since) || o.since < 0)) throw new Error(`bad cursor ${String(o.since)}: give a number printed by basefs watch`);
      this.sent = typeof o.since === 'number' ? o.since : this.fs.journal.durable;
      this.send({ start: this.sent });
      let caught = false;
      while (!this.closed) {
        if (this.sock.writableLength >= HIGH) {
          if (!this.behind()) await this.until();
          continue;
        }
        const page = await this.fs.journal.read(this.sent, PAGE, this.fs.name);
        for (const c of page) {
          if (this.closed) break;
          if (isUnder(c.path, path)) this.send({ change: c });
          this.sent = c.cursor;
        }
        if (page.length) continue;
        if (!caught) {
          caught = true;
          this.send({ caught: this.sent });
          if (o.follow === false) break;
        }
        if (this.fs.journal.durable <= this.sent) await this.until();
      }
    } catch (e) {
      const err = e as Error & { code?: string };
      this.fail(err.message, typeof err.code === 'string' ? err.code : 'EINVAL');
    } finally {
      this.fs.off('changes', onChanges);
      this.sock.off('drain', onDrain);
      this.close();
    }
  }
}
