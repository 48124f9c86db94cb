import { readFileSync, statSync } from 'node:fs';

// Owners by name (docs/FUSE.md, "Owners"). The log records a user and a group by name, as tar
// does, because numeric ids mean nothing across machines that do not share /etc/passwd. Each
// node maps the names to its own ids through its /etc/passwd and /etc/group (local files only,
// like `getent -s files`; NSS sources such as LDAP are not asked, since getattr must not wait
// on the network). A name the node does not know, and an owner that was never recorded, show as
// the mounting user and its group: never as `nobody`, whom other daemons run as, so a 0600 file
// chowned to a user this node lacks stays private to the one who mounted it.
// A user that has no name where chown was called is recorded as its decimal id and maps back
// to that id everywhere.

const RECHECK_MS = 2000; // how stale the tables may get when an admin adds a user

interface Table {
  byName: Map<string, number>;
  byId: Map<number, string>;
  mtimeMs: number;
}

function parse(text: string, mtimeMs: number): Table {
  const byName = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !f[0] || !/^[0-9]+$/.test(f[2])) continue;
    const id = Number(f[2]);
    if (!byName.has(f[0])) byName.set(f[0], id);
    if (!byId.has(id)) byId.set(id, f[0]); // the first name of an id, as getpwuid answers
  }
  return { byName, byId, mtimeMs };
}

class IdFile {
  private file: string;
  private table: Table = { byName: new Map(), byId: new Map(), mtimeMs: -1 };
  private checked = 0;
  constructor(file: string) {
    this.file = file;
  }

  get(): Table {
    const now = Date.now();
    if (now - this.checked < RECHECK_MS) return this.table;
    this.checked = now;
    let mtimeMs = -2;
    try {
      mtimeMs = statSync(this.file).mtimeMs;
      if (mtimeMs !== this.table.mtimeMs) this.table = parse(readFileSync(this.file, 'utf8'), mtimeMs);
    } catch {
      if (this.table.mtimeMs !== mtimeMs) this.table = { byName: new Map(), byId: new Map(), mtimeMs }; // no file: ids only
    }
    return this.table;
  }
}

const NUMERIC = /^(0|[1-9][0-9]*)$/;

export class IdMap {
  readonly uid: number; // the mounting user: the fallback
  readonly gid: number;
  private users: IdFile;
  private groups: IdFile;

  constructor(o: { uid: number; gid: number; passwd?: string; group?: string }) {
    this.uid = o.uid;
    this.gid = o.gid;
    this.users = new IdFile(o.passwd ?? '/etc/passwd');
    this.groups = new IdFile(o.group ?? '/etc/group');
  }

  uidOf(owner: string | undefined): number {
    return toId(owner, this.users, this.uid);
  }

  gidOf(group: string | undefined): number {
    return toId(group, this.groups, this.gid);
  }

  // What the log records for a local id: its name, or the decimal id when it has none.
  userName(uid: number): string {
    return this.users.get().byId.get(uid) ?? String(uid);
  }

  groupName(gid: number): string {
    return this.groups.get().byId.get(gid) ?? String(gid);
  }
}

function toId(s: string | undefined, f: IdFile, fallback: number): number {
  if (!s) return fallback;
  if (NUMERIC.test(s)) return Number(s);
  return f.get().byName.get(s) ?? fallback;
}
