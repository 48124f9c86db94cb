import type { Filesystem } from '../node/filesystem.ts';
import { Kind } from '../log/entry.ts';
import type { Version } from '../view/state.ts';
import { ancestorsAndSelf, parentOf, baseName } from '../log/path.ts';

// The read-only /.conflicts folder: for every path that has conflict losers (concurrent
// versions that lost the resolution of SPEC 5), /.conflicts/<path>/<id> holds each loser,
// where <id> is the first 12 hex digits of the losing entry's id, showing the state that
// version gives the path:
//   a file (WRITE, or a RENAME that moved a file in) -> the loser's content, mode and mtime
//   a symlink                                         -> the loser's target
//   a directory                                       -> an empty directory
// Losing deletes carry no content and are listed by `basefs log` only. The
// directories above a conflicted path exist so it can be browsed; a loser id shadows a child
// of the same 12-hex-digit name (see docs/FUSE.md).
export const ID_DIGITS = 12;

export interface VNode {
  type: 'dir' | 'file' | 'symlink';
  mode: number;
  mtime: number;
  size: number;
  root?: Uint8Array | null;
  target?: string;
}

interface Index {
  dirs: Map<string, Set<string>>; // virtual dir (relative to /.conflicts) -> child names
  losers: Map<string, VNode>; // '/<path>/<id>' -> loser node
}

export class ConflictTree {
  private fs: Filesystem;
  private index: Index | null = null;
  private builtAt = 0;

  constructor(fs: Filesystem) {
    this.fs = fs;
  }

  invalidate(): void {
    this.index = null;
  }

  // Paths that may have losers: every path an entry names (its own path, a RENAME's target).
  private candidatePaths(): string[] {
    const paths = new Set<string>();
    for (const n of this.fs.dag.nodes.values()) {
      const e = n.entry;
      if (e.kind === Kind.WRITE || e.kind === Kind.MKDIR || e.kind === Kind.SYMLINK || e.kind === Kind.DELETE) paths.add(e.path);
      else if (e.kind === Kind.RENAME) paths.add(e.target);
    }
    return [...paths];
  }

  private build(): Index {
    this.builtAt = Date.now();
    const idx: Index = { dirs: new Map([['/', new Set()]]), losers: new Map() };
    const state = this.fs.state;
    for (const p of this.candidatePaths()) {
      let losers: Version[];
      try {
        losers = state.losers(p);
      } catch {
        continue;
      }
      for (const v of losers) {
        const n = v.inode;
        if (!n) continue; // a losing delete: nothing to read (basefs log lists it)
        let node: VNode;
        if (n.type === 'file') node = { type: 'file', mode: n.mode & 0o7777, mtime: n.mtime || v.entry.time, size: n.size, root: n.root };
        else if (n.type === 'symlink') node = { type: 'symlink', mode: 0o777, mtime: n.mtime || v.entry.time, size: Buffer.byteLength(n.target), target: n.target };
        else node = { type: 'dir', mode: n.mode & 0o7777, mtime: n.mtime || v.entry.time, size: 0 };
        const id = v.entry.idHex.slice(0, ID_DIGITS);
        const at = (p === '/' ? '' : p) + '/' + id;
        idx.losers.set(at, node);
        if (node.type === 'dir' && !idx.dirs.has(at)) idx.dirs.set(at, new Set());
        this.addDir(idx, p);
        idx.dirs.get(p)!.add(id);
      }
    }
    return idx;
  }

  private addDir(idx: Index, p: string): void {
    for (const a of ancestorsAndSelf(p)) {
      if (!idx.dirs.has(a)) idx.dirs.set(a, new Set());
      if (a !== '/') idx.dirs.get(parentOf(a))!.add(baseName(a));
    }
  }

  private get idx(): Index {
    return (this.index ??= this.build());
  }

  resolve(sub: string): VNode | null {
    const l = this.idx.losers.get(sub);
    if (l) return l;
    if (this.idx.dirs.has(sub)) return { type: 'dir', mode: 0o555, mtime: this.builtAt, size: 0 };
    return null;
  }

  children(sub: string): string[] {
    return [...(this.idx.dirs.get(sub) ?? [])].sort();
  }
}
