import { Kind, type Entry } from '../log/entry.ts';
import { parentOf } from '../log/path.ts';

const DAY_MS = 24 * 3600 * 1000;
const MAX_TRACKED = 200_000; // paths per map; beyond that the oldest are forgotten

// The times getattr shows beyond the logged mtime (docs/FUSE.md, "Times"):
//   ctime  the time of the last entry that changed the path (its content or creation entry, a
//          RENAME that brought it there, a SETATTR): from the log, the same on every node;
//          for changes not committed yet, when they were made. touch -d cannot set it.
//   atime  node-local and in memory (not logged): relatime, so a read sets it to now when it
//          was not after the mtime or is a day old; utimens sets it. Unknown: the mtime.
//   dirs   a directory's mtime and ctime move to now when this node sees an entry added to or
//          removed from it (its own calls, and peers' entries as they arrive), until the next
//          utimens of the directory; node-local, so a remount shows the logged mtime again.
export class Times {
  private atimes = new Map<string, number>();
  private dirChanged = new Map<string, number>();
  private entryTime: (idHex: string) => number | undefined;

  constructor(entryTime: (idHex: string) => number | undefined) {
    this.entryTime = entryTime;
  }

  // ctime of a logged node: the latest of the entries that made its current state.
  ctime(n: { mtime: number; entryId?: string; attrId?: string }): number {
    let t = 0;
    if (n.entryId) t = this.entryTime(n.entryId) ?? 0;
    if (n.attrId) t = Math.max(t, this.entryTime(n.attrId) ?? 0);
    return t || n.mtime;
  }

  atime(path: string, mtime: number): number {
    return this.atimes.get(path) ?? mtime;
  }

  // A read of path (relatime): only a first read after a change, or once a day, costs a write
  // to the map.
  accessed(path: string, mtime: number): void {
    const a = this.atimes.get(path);
    const now = Date.now();
    if (a === undefined ? now > mtime : a <= mtime || now - a > DAY_MS) this.setAtime(path, now);
  }

  setAtime(path: string, t: number): void {
    this.atimes.delete(path);
    if (this.atimes.size >= MAX_TRACKED) this.atimes.delete(this.atimes.keys().next().value!);
    this.atimes.set(path, t);
  }

  // A directory's own mtime as shown: when an entry was added or removed since its last set.
  dirMtime(path: string, logged: number): number {
    return this.dirChanged.get(path) ?? logged;
  }

  dirCtime(path: string, logged: number): number {
    return Math.max(this.dirChanged.get(path) ?? 0, logged);
  }

  // An entry was added to or removed from path's parent.
  childChanged(path: string, t = Date.now()): void {
    const dir = parentOf(path);
    this.dirChanged.delete(dir);
    if (this.dirChanged.size >= MAX_TRACKED) this.dirChanged.delete(this.dirChanged.keys().next().value!);
    this.dirChanged.set(dir, t);
  }

  // utimens of a directory: the time set wins until the next change in it.
  mtimeSet(path: string): void {
    this.dirChanged.delete(path);
  }

  removed(path: string): void {
    this.atimes.delete(path);
    this.dirChanged.delete(path);
    this.childChanged(path);
  }

  // Entries as they are applied (this mount's own and everyone else's). `writeCounts(e)`:
  // whether a WRITE changes its directory (the log does not say whether it made the file or
  // replaced its content; the mount marks its own new files at create).
  entries(es: Entry[], writeCounts: (e: Entry) => boolean): void {
    for (const e of es) {
      switch (e.kind) {
        case Kind.MKDIR:
        case Kind.SYMLINK:
          this.childChanged(e.path, e.time);
          break;
        case Kind.WRITE:
          if (writeCounts(e)) this.childChanged(e.path, e.time);
          break;
        case Kind.DELETE:
          this.atimes.delete(e.path);
          this.childChanged(e.path, e.time);
          break;
        case Kind.RENAME:
          this.childChanged(e.path, e.time);
          this.childChanged(e.target, e.time);
          break;
        case Kind.SETATTR:
          this.mtimeSet(e.path);
          break;
      }
    }
  }
}
