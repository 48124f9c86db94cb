import { fingerprint } from '../crypto/keys.ts';
import { kindName, type Entry } from '../log/entry.ts';

export interface RefusedRecord {
  id: string;
  author: string; // key fingerprint
  kind: string;
  path: string;
  time: number; // the entry's own timestamp
  at: number; // when this node refused it
  reason: string;
}

// What a node remembers of entries it refused (no authority in their causal past, bad
// signature, another filesystem...): a few small records per author and a fixed total, in
// memory only. Enough for an operator to see who tried what (`basefs status`); the entries
// themselves are never stored, served or relayed, so a stranger's flood costs at most this.
export const AUDIT_LIMITS = { perAuthor: 8, total: 512 };

export class RefusedAudit {
  private byAuthor = new Map<string, RefusedRecord[]>(); // insertion order = least recently active first
  private count = 0;
  total = 0; // refused since start, all kept or not

  record(e: Entry, reason: string): void {
    this.total++;
    const r: RefusedRecord = { id: e.idHex, author: fingerprint(e.author), kind: kindName(e.kind), path: e.path, time: e.time, at: Date.now(), reason };
    let l = this.byAuthor.get(r.author);
    if (l) this.byAuthor.delete(r.author); // re-insert: most recently active last
    else l = [];
    l.push(r);
    this.count++;
    if (l.length > AUDIT_LIMITS.perAuthor) {
      l.shift();
      this.count--;
    }
    this.byAuthor.set(r.author, l);
    while (this.count > AUDIT_LIMITS.total) {
      const [k, old] = this.byAuthor.entries().next().value!;
      old.shift();
      this.count--;
      if (old.length === 0) this.byAuthor.delete(k);
    }
  }

  get size(): number {
    return this.count;
  }

  authors(): number {
    return this.byAuthor.size;
  }

  // Most recent first.
  list(): RefusedRecord[] {
    return [...this.byAuthor.values()].flat().sort((a, b) => b.at - a.at);
  }
}
