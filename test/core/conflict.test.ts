// Conflict resolution and the documented race outcomes (docs/AUTHORITY.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kind, type Entry } from '../../src/log/entry.ts';
import { FsState } from '../../src/view/state.ts';
import fc from 'fast-check';
import { isUnder } from '../../src/log/path.ts';
import { World, key, hasContent, incremental, rootOf, checkRule4 } from './view-harness.ts';
import type { Draft } from '../../src/log/sign.ts';

function agree(w: World): FsState {
  const fresh = w.state();
  for (const o of [[...w.all].reverse(), [...w.all], [...w.all].sort((a, b) => (a.idHex < b.idHex ? -1 : 1))]) {
    assert.equal(incremental(o).state.viewDigest(), fresh.viewDigest());
  }
  return fresh;
}

test('concurrent writes: the stronger rank wins even against a longer branch; the loser is listed', () => {
  const w = new World();
  const A = key(1);
  const g = w.grant(w.root, A, '/a');
  const rootV = w.write(w.root, '/a/f', 'root', [g]);
  // A's branch is longer (higher causal height) and later, but A's rank (1) is weaker than root's (0).
  let last = w.write(A, '/a/other', 'x', [g]);
  for (let i = 0; i < 5; i++) last = w.write(A, '/a/other', `x${i}`, [last]);
  const aV = w.write(A, '/a/f', 'A', [last]);
  const s = agree(w);
  assert.ok(hasContent(s, '/a/f', 'root'));
  const losers = s.losers('/a/f');
  assert.equal(losers.length, 1);
  assert.equal(losers[0].entry.idHex, aV.idHex);
  assert.match(losers[0].why, new RegExp(`lost to ${rootV.idHex.slice(0, 8)}: weaker rank 1 vs 0`));
  assert.ok(losers[0].inode && losers[0].inode.root && Buffer.compare(losers[0].inode.root, rootOf('A')) === 0, 'loser readable');
});

test('a deeper grant never beats a shallower one, whatever the height', () => {
  const w = new World();
  const [A, B] = [key(1), key(2)];
  w.grant(w.root, A, '/p');
  const gB = w.grant(A, B, '/p/q');
  const aV = w.write(A, '/p/q/f', 'A', [gB]);
  let last = gB;
  for (let i = 0; i < 8; i++) last = w.write(B, `/p/q/n${i}`, 'n', [last]);
  w.write(B, '/p/q/f', 'B', [last]);
  const s = agree(w);
  assert.ok(hasContent(s, '/p/q/f', 'A'));
  assert.equal(s.history('/p/q/f').find((v) => v.winner)!.entry.idHex, aV.idHex);
});

test('equal rank: higher causal height, then later timestamp, then higher id', () => {
  const w = new World();
  const base = w.write(w.root, '/f', 'base');
  const h1 = w.write(w.root, '/f', 'short', [base]);
  const mid = w.write(w.root, '/g', 'g', [base]);
  const h2 = w.write(w.root, '/f', 'tall', [mid]);
  let s = agree(w);
  assert.ok(hasContent(s, '/f', 'tall'));
  assert.match(s.losers('/f')[0].why, /lower causal height/);
  assert.equal(s.losers('/f')[0].entry.idHex, h1.idHex);
  // same height: later timestamp
  const t1 = w.add(w.root, { kind: Kind.WRITE, path: '/t', root: rootOf('early'), size: 1, mode: 0o644, time: 10 }, [h2]);
  const t2 = w.add(w.root, { kind: Kind.WRITE, path: '/t', root: rootOf('late'), size: 1, mode: 0o644, time: 20 }, [h2]);
  s = agree(w);
  assert.ok(hasContent(s, '/t', 'late'));
  assert.match(s.losers('/t')[0].why, /earlier timestamp/);
  // same height and time: higher id
  const i1 = w.add(w.root, { kind: Kind.WRITE, path: '/i', root: rootOf('one'), size: 1, mode: 0o644, time: 30 }, [t1]);
  const i2 = w.add(w.root, { kind: Kind.WRITE, path: '/i', root: rootOf('two'), size: 1, mode: 0o644, time: 30 }, [t1]);
  s = agree(w);
  const win = i1.idHex > i2.idHex ? 'one' : 'two';
  assert.ok(hasContent(s, '/i', win));
  assert.match(s.losers('/i')[0].why, /lower entry id/);
  assert.equal(t2.kind, Kind.WRITE);
});

test('superseded versions are history, not losers', () => {
  const w = new World();
  const v1 = w.write(w.root, '/f', '1');
  const v2 = w.write(w.root, '/f', '2');
  const v3 = w.write(w.root, '/f', '3');
  const s = agree(w);
  assert.ok(hasContent(s, '/f', '3'));
  assert.deepEqual(s.losers('/f'), []);
  const h = s.history('/f');
  assert.deepEqual(h.map((v) => v.entry.idHex), [v3.idHex, v2.idHex, v1.idHex], 'newest first');
  assert.equal(h[0].why, 'winner');
  assert.equal(h[1].why, `superseded by ${v3.idHex.slice(0, 8)}`);
  assert.equal(h[2].why, `superseded by ${v2.idHex.slice(0, 8)}`);
});

test('write vs delete race: the same rule as any conflict; the losing side is kept', () => {
  // delete wins (higher height)
  let w = new World();
  let base = w.write(w.root, '/f', 'v1');
  const wr = w.write(w.root, '/f', 'v2', [base]);
  const x = w.write(w.root, '/x', 'x', [base]);
  const del = w.del(w.root, '/f', [x]);
  let s = agree(w);
  assert.equal(s.lookup('/f'), null);
  assert.equal(s.losers('/f')[0].entry.idHex, wr.idHex, 'the lost write is listed and revertable');
  assert.equal(s.history('/f').find((v) => v.winner)!.entry.idHex, del.idHex);
  // write wins (higher height)
  w = new World();
  base = w.write(w.root, '/f', 'v1');
  w.del(w.root, '/f', [base]);
  const y = w.write(w.root, '/y', 'y', [base]);
  w.write(w.root, '/f', 'v2', [y]);
  s = agree(w);
  assert.ok(hasContent(s, '/f', 'v2'));
  assert.equal(s.losers('/f')[0].entry.kind, Kind.DELETE);
});

test('directory delete vs concurrent child create: the child survives and keeps the directory visible', () => {
  const w = new World();
  w.mkdir(w.root, '/d');
  w.write(w.root, '/d/old', 'old');
  w.mkdir(w.root, '/d/sub');
  const base = w.write(w.root, '/d/sub/deep', 'deep');
  const del = w.del(w.root, '/d', [base]); // saw /d/old and /d/sub/deep
  const child = w.write(w.root, '/d/new', 'new', [base]); // concurrent
  const re = w.write(w.root, '/d/old', 'rewritten', [base]); // concurrent rewrite of a child it saw
  const s = agree(w);
  assert.ok(hasContent(s, '/d/new', 'new'));
  assert.ok(hasContent(s, '/d/old', 'rewritten'));
  assert.equal(s.lookup('/d/sub/deep'), null, 'descendants in the delete\'s past are removed');
  assert.equal(s.lookup('/d/sub'), null);
  const d = s.lookup('/d')!;
  assert.equal(d.type, 'dir');
  assert.equal(d.entryId, '', 'kept as an implicit directory');
  assert.deepEqual(s.readdir('/d'), ['new', 'old']);
  assert.equal(s.history('/d').find((v) => v.entry.idHex === del.idHex)!.winner, true);
  assert.ok(s.isValid(child.idHex) && s.isValid(re.idHex));
  // without the concurrent children the directory is gone
  const before = FsState.atHeads(w.dag, [del.idHex]);
  assert.equal(before.lookup('/d'), null);
  assert.deepEqual(before.readdir('/'), []);
});

test('rename vs write race: dst takes the state src had in the rename\'s past; the concurrent write stays at src', () => {
  const w = new World();
  const v1 = w.write(w.root, '/src', 'v1');
  const rn = w.rename(w.root, '/src', '/dst', [v1]);
  const v2 = w.write(w.root, '/src', 'v2', [v1]); // concurrent with the rename
  const s = agree(w);
  assert.ok(hasContent(s, '/dst', 'v1'));
  const dst = s.lookup('/dst')!;
  assert.equal(dst.entryId, rn.idHex);
  assert.equal(dst.contentId, v1.idHex);
  // at /src: rename-out (a delete) vs the write, same height: decided by timestamp (v2 is later)
  assert.ok(hasContent(s, '/src', 'v2'));
  assert.equal(s.lookup('/src')!.entryId, v2.idHex);
  assert.equal(s.losers('/src')[0].entry.idHex, rn.idHex);
  // had the rename won at /src, v2 would be a listed loser: nothing is lost either way
  const w2 = new World();
  const a1 = w2.write(w2.root, '/src', 'v1');
  const a2 = w2.write(w2.root, '/src', 'v2', [a1]);
  const other = w2.write(w2.root, '/o', 'o', [a1]);
  w2.rename(w2.root, '/src', '/dst', [other]);
  const s2 = agree(w2);
  assert.ok(hasContent(s2, '/dst', 'v1'));
  assert.equal(s2.lookup('/src'), null);
  assert.equal(s2.losers('/src')[0].entry.idHex, a2.idHex);
});

test('rename of a directory moves the subtree; concurrent children of the source stay', () => {
  const w = new World();
  w.mkdir(w.root, '/a', undefined, 0o700);
  w.write(w.root, '/a/f', 'f');
  w.mkdir(w.root, '/a/s');
  const base = w.write(w.root, '/a/s/g', 'g');
  w.rename(w.root, '/a', '/b', [base]);
  const conc = w.write(w.root, '/a/late', 'late', [base]);
  const s = agree(w);
  assert.equal(s.lookup('/b')!.type, 'dir');
  assert.equal(s.lookup('/b')!.mode, 0o700);
  assert.ok(hasContent(s, '/b/f', 'f'));
  assert.ok(hasContent(s, '/b/s/g', 'g'));
  assert.deepEqual(s.readdir('/b'), ['f', 's']);
  assert.equal(s.lookup('/a/f'), null);
  assert.ok(hasContent(s, '/a/late', 'late'));
  assert.deepEqual(s.readdir('/a'), ['late']);
  assert.equal(s.lookup('/a')!.entryId, '');
  assert.ok(s.isValid(conc.idHex));
  // then back: a chain of renames
  w.rename(w.root, '/b', '/c');
  const s2 = agree(w);
  assert.ok(hasContent(s2, '/c/s/g', 'g'));
  assert.equal(s2.lookup('/b'), null);
});

test('rename over an existing file replaces it (the old one stays in history); over a directory replaces the subtree', () => {
  const w = new World();
  const old = w.write(w.root, '/dst', 'old');
  w.write(w.root, '/src', 'new');
  const rn = w.rename(w.root, '/src', '/dst');
  let s = agree(w);
  assert.ok(hasContent(s, '/dst', 'new'));
  assert.equal(s.lookup('/src'), null);
  const h = s.history('/dst');
  assert.equal(h.find((v) => v.entry.idHex === old.idHex)!.why, `superseded by ${rn.idHex.slice(0, 8)}`);
  const rin = h.find((v) => v.entry.idHex === rn.idHex)!;
  assert.equal(rin.kind, 'RENAME-in');
  assert.equal(rin.inode!.path, '/dst');
  assert.ok(Buffer.compare(rin.inode!.root!, rootOf('new')) === 0);
  assert.equal(s.history('/src').find((v) => v.entry.idHex === rn.idHex)!.kind, 'RENAME-out');
  w.write(w.root, '/D/x', 'x');
  w.write(w.root, '/S/y', 'y');
  w.rename(w.root, '/S', '/D');
  s = agree(w);
  assert.deepEqual(s.readdir('/D'), ['y']);
  assert.equal(s.lookup('/D/x'), null);
});

test('rename of a path into its own parent (/a/b -> /a) works', () => {
  const w = new World();
  w.write(w.root, '/a/b/b', 'inner');
  w.write(w.root, '/a/c', 'c');
  w.rename(w.root, '/a/b', '/a');
  const s = agree(w);
  assert.ok(hasContent(s, '/a/b', 'inner'));
  assert.deepEqual(s.readdir('/a'), ['b']);
  assert.equal(s.lookup('/a/c'), null);
});

test('/a/a, names with spaces and unicode', () => {
  const w = new World();
  w.mkdir(w.root, '/a');
  w.write(w.root, '/a/a', 'aa');
  w.mkdir(w.root, '/a/a a');
  w.write(w.root, '/a/a a/ünï cödé ✓', 'u');
  w.write(w.root, '/sp ace', 'sp');
  w.write(w.root, '/a/a/x', 'x'); // under a file: /a/a becomes an implicit directory
  let s = agree(w);
  assert.deepEqual(s.readdir('/'), ['a', 'sp ace']);
  assert.deepEqual(s.readdir('/a'), ['a', 'a a']);
  assert.ok(hasContent(s, '/a/a a/ünï cödé ✓', 'u'));
  assert.ok(hasContent(s, '/sp ace', 'sp'));
  assert.equal(s.lookup('/a/a')!.type, 'dir');
  assert.equal(s.losers('/a/a').length, 1, 'the displaced file is listed');
  assert.match(s.losers('/a/a')[0].why, /^displaced/);
  w.del(w.root, '/a/a/x');
  s = agree(w);
  assert.ok(hasContent(s, '/a/a', 'aa'), 'the file shows again once its children are gone');
});

test('mkdir over an existing dir is a no-op version; setattr changes the winner\'s mode and mtime; symlink is a version', () => {
  const w = new World();
  const m1 = w.mkdir(w.root, '/d', undefined, 0o750);
  w.write(w.root, '/d/f', 'f');
  const m2 = w.mkdir(w.root, '/d', undefined, 0o777);
  let s = agree(w);
  const d = s.lookup('/d')!;
  assert.equal(d.mode, 0o750, 'mode unchanged');
  assert.equal(d.entryId, m2.idHex);
  assert.deepEqual(s.readdir('/d'), ['f']);
  assert.equal(s.history('/d').find((v) => v.entry.idHex === m1.idHex)!.why, `superseded by ${m2.idHex.slice(0, 8)}`);
  const sa = w.add(w.root, { kind: Kind.SETATTR, path: '/d/f', mode: 0o600, mtime: 12345 });
  s = agree(w);
  assert.equal(s.lookup('/d/f')!.mode, 0o600);
  assert.equal(s.lookup('/d/f')!.mtime, 12345);
  assert.equal(s.lookup('/d/f')!.attrId, sa.idHex);
  w.write(w.root, '/d/f', 'f2'); // a later write carries its own mode: the setattr is superseded
  s = agree(w);
  assert.equal(s.lookup('/d/f')!.mode, 0o644);
  w.add(w.root, { kind: Kind.SYMLINK, path: '/d/l', target: '../x y' });
  s = agree(w);
  assert.equal(s.lookup('/d/l')!.type, 'symlink');
  assert.equal(s.lookup('/d/l')!.target, '../x y');
  w.write(w.root, '/d/l', 'now a file');
  s = agree(w);
  assert.equal(s.lookup('/d/l')!.type, 'file');
  assert.equal(s.history('/d/l').length, 2);
});

test('a chmod concurrent with a write applies to the winning write', () => {
  const w = new World();
  const base = w.write(w.root, '/f', 'v1');
  w.add(w.root, { kind: Kind.SETATTR, path: '/f', mode: 0o600, mtime: 1 }, [base]);
  w.write(w.root, '/f', 'v2', [base]);
  const s = agree(w);
  assert.ok(hasContent(s, '/f', 'v2'));
  assert.equal(s.lookup('/f')!.mode, 0o600);
});

test('snapshots via atHeads show the past; apply returns the changed paths', () => {
  const w = new World();
  w.write(w.root, '/f', 'v1');
  const snap = w.add(w.root, { kind: Kind.SNAPSHOT, path: '/', name: 'before' });
  w.write(w.root, '/f', 'v2');
  w.write(w.root, '/g', 'g');
  const s = w.state();
  const label = s.snapshots().find((x) => x.label === 'before')!;
  assert.equal(label.entryId, snap.idHex);
  const old = FsState.atHeads(w.dag, label.heads);
  assert.ok(hasContent(old, '/f', 'v1'));
  assert.equal(old.lookup('/g'), null);
  assert.ok(hasContent(s, '/f', 'v2'));
  assert.equal(old.isValid(snap.idHex), false, 'the heads of a snapshot are its deps');
  assert.equal(old.isValid(w.all[1].idHex), true);
  assert.equal(old.isValid(w.all[w.all.length - 1].idHex), false, 'not in that past');
  // two concurrent heads: their union
  const x = w.write(w.root, '/x', 'x', [snap]);
  const y = w.write(w.root, '/y', 'y', [snap]);
  const both = FsState.atHeads(w.dag, [x.idHex, y.idHex]);
  assert.deepEqual(both.readdir('/'), ['f', 'x', 'y']);
  assert.ok(hasContent(both, '/f', 'v1'));
  assert.throws(() => FsState.atHeads(w.dag, ['00'.repeat(32)]), /unknown entry/);
  // incremental: changed paths
  const e = w.write(w.root, '/h/i', 'i');
  const r = w.dag.get(e.idHex)!;
  const changed = s.apply([r]).sort();
  // s had not seen /x and /y (written after it was built): apply pulls unseen deps from the Dag
  assert.deepEqual(changed, ['/', '/h', '/h/i', '/x', '/y']);
  assert.deepEqual(s.apply([r]), [], 'already applied');
  const d = w.del(w.root, '/f');
  assert.deepEqual(s.apply([w.dag.get(d.idHex)!]).sort(), ['/', '/f']);
  assert.equal(s.viewDigest(), w.state().viewDigest());
});

test('write vs delete of the parent directory: the rewritten child is kept', () => {
  const w = new World();
  w.mkdir(w.root, '/p');
  const base: Entry = w.write(w.root, '/p/f', 'v1');
  w.del(w.root, '/p', [base]);
  w.write(w.root, '/p/f', 'v2', [base]);
  const s = agree(w);
  assert.ok(hasContent(s, '/p/f', 'v2'));
  assert.equal(s.lookup('/p')!.type, 'dir');
});

test('two concurrent renames of one source both take it; a rename concurrent with a delete of the source keeps the file', () => {
  const w = new World();
  const v = w.write(w.root, '/src', 'data');
  w.rename(w.root, '/src', '/one', [v]);
  w.rename(w.root, '/src', '/two', [v]);
  const w2 = new World();
  const v2 = w2.write(w2.root, '/src', 'data');
  w2.rename(w2.root, '/src', '/moved', [v2]);
  w2.del(w2.root, '/src', [v2]);
  const s = agree(w);
  assert.ok(hasContent(s, '/one', 'data'));
  assert.ok(hasContent(s, '/two', 'data'));
  assert.equal(s.lookup('/src'), null);
  const s2 = agree(w2);
  assert.ok(hasContent(s2, '/moved', 'data'));
  assert.equal(s2.lookup('/src'), null);
});

test('conflict resolution matches a brute-force reference (flat paths, several keys, grants and revokes)', () => {
  const paths = ['/x', '/y', '/z z'];
  fc.assert(
    fc.property(
      fc.array(fc.record({ k: fc.constantFrom(0, 0, 1, 2), op: fc.nat(9), p: fc.nat(2), deps: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), t: fc.nat(3) }), { minLength: 1, maxLength: 25 }),
      (ops) => {
        const w = new World();
        const [A, B] = [key(1), key(2)];
        w.grant(w.root, A, '/');
        w.grant(A, B, '/y');
        const made: Entry[] = [...w.all];
        for (const o of ops) {
          const kp = [w.root, A, B][o.k];
          const deps = [...new Set(o.deps.map((d) => made[made.length - 1 - (d % Math.min(made.length, 5))]))];
          const p = paths[o.p];
          const d = o.op < 6 ? { kind: Kind.WRITE, path: p, root: rootOf(`${made.length}`), size: 1, mode: 0o644, time: w.t + o.t }
            : o.op < 8 ? { kind: Kind.DELETE, path: p, time: w.t + o.t }
            : { kind: Kind.REVOKE, path: o.op === 8 ? '/y' : '/', key: (o.op === 8 ? B : A).publicKey, time: w.t + o.t };
          w.t += 4;
          made.push(w.add(kp, d as Draft, deps));
        }
        const s = w.state();
        checkRule4(s, w.dag, w.all);
        const grants = s.grants();
        const rankOf = (e: Entry, p: string): number =>
          Math.min(...grants.filter((g) => Buffer.compare(g.key, e.author) === 0 && isUnder(p, g.path) && (g.entryId === w.boot.idHex || w.dag.isAncestor(g.entryId, e.idHex)) && g.removedBy.every((r) => w.dag.isAncestor(e.idHex, r))).map((g) => g.rank));
        for (const p of paths) {
          const vs = w.all.filter((e) => e.path === p && (e.kind === Kind.WRITE || e.kind === Kind.DELETE) && s.isValid(e.idHex));
          const front = vs.filter((v) => !vs.some((o) => o !== v && w.dag.isAncestor(v.idHex, o.idHex)));
          const key4 = (e: Entry) => [rankOf(e, p), -w.dag.get(e.idHex)!.height, -e.time] as const;
          let win: Entry | null = null;
          for (const v of front) {
            if (!win) { win = v; continue; }
            const a = key4(v), b = key4(win);
            if (a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && (a[2] < b[2] || (a[2] === b[2] && v.idHex > win.idHex)))))) win = v;
          }
          const n = s.lookup(p);
          if (!win || win.kind === Kind.DELETE) assert.equal(n, null, p);
          else assert.ok(n && n.entryId === win.idHex, `${p}: want ${win.idHex.slice(0, 8)} got ${n?.entryId.slice(0, 8)}`);
          assert.equal(s.losers(p).length, front.length > 0 ? front.length - 1 : 0);
        }
      },
    ),
    { numRuns: Number(process.env.PROP_RUNS ?? 100) },
  );
});
