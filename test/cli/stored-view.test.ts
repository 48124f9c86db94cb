// Issue 15: the stored view. ls and cat of a stopped filesystem read it instead of replaying
// the log; damage to it is noticed when read and by fsck, which rebuilds it; a data directory
// written before it existed gets one on first open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { basefs, ok, tmpHome } from './helpers.ts';
import { fsDir } from '../../src/node/datadir.ts';

async function withDb<T>(home: string, name: string, fn: (db: ClassicLevel<string, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<string, Uint8Array>(join(fsDir(home, name), 'log'), { valueEncoding: 'view' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function setup(t: { after: (fn: () => void) => void }): string {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'sv']);
  ok(home, ['mkdir', 'sv:/etc']);
  ok(home, ['write', 'sv:/etc/a.conf'], 'alpha\n');
  ok(home, ['write', 'sv:/etc/b.conf'], 'beta\n');
  ok(home, ['write', 'sv:/old'], 'old\n');
  ok(home, ['mv', 'sv:/old', 'sv:/etc/moved']);
  ok(home, ['write', '--mode', '600', 'sv:/etc/b.conf'], 'beta 2\n');
  ok(home, ['revert', 'sv:/etc/b.conf', JSON.parse(ok(home, ['--json', 'log', 'sv:/etc/b.conf'])).at(-1).id.slice(0, 12)]);
  ok(home, ['write', 'sv:/gone'], 'x');
  ok(home, ['rm', 'sv:/gone']);
  return home;
}

test('ls and cat of a stopped filesystem read the stored view, not the log', { timeout: 120_000 }, async (t) => {
  const home = setup(t);
  assert.equal(JSON.parse(ok(home, ['--json', 'fsck', 'sv'])).ok, true, 'after CLI writes of every kind the stored view equals a replay');
  // Damage the stored record of the first WRITE (of /etc/a.conf): a replay now refuses the
  // log, so ls and cat succeeding shows that they did not replay it.
  const id = JSON.parse(ok(home, ['--json', 'log', 'sv:/etc/a.conf']))[0].id;
  await withDb(home, 'sv', async (db) => {
    const seq = Buffer.from((await db.get('i!' + id))!).toString();
    const v = Buffer.from((await db.get('s!' + seq))!);
    v[v.length - 1] ^= 1;
    await db.put('s!' + seq, v);
  });
  const ls = basefs(home, ['ls', '-l', 'sv:/etc']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /-rw-r--r-- .* 5 .* b\.conf/, 'the reverted version');
  assert.match(ls.stdout, /moved/);
  assert.equal(ok(home, ['cat', 'sv:/etc/a.conf']), 'alpha\n');
  const w = basefs(home, ['write', 'sv:/etc/c.conf'], 'x');
  assert.notEqual(w.code, 0, 'a write needs the log, which is damaged');
  assert.match(w.stderr, /damaged/);
  const f = basefs(home, ['fsck', 'sv']);
  assert.equal(f.code, 1);
  assert.match(f.stdout, /log: DAMAGED: .*record \d+ \(entry [0-9a-f]{64}, path \/etc\/a\.conf\)/);
});

test('a damaged stored view record: read says so, fsck names the path, rebuilds it, exits 1; then all is well', { timeout: 120_000 }, async (t) => {
  const home = setup(t);
  await withDb(home, 'sv', async (db) => {
    const v = Buffer.from((await db.get('v!n!/etc/a.conf'))!);
    v[v.length - 3] ^= 0x04; // one bit of the stored JSON
    await db.put('v!n!/etc/a.conf', v);
  });
  const cat = basefs(home, ['cat', 'sv:/etc/a.conf']);
  assert.notEqual(cat.code, 0, 'a damaged record is never served');
  assert.match(cat.stderr, /stored view of sv is damaged: the record of \/etc\/a\.conf .*basefs fsck sv/);
  const f = basefs(home, ['fsck', 'sv']);
  assert.equal(f.code, 1, f.stdout + f.stderr);
  assert.match(f.stdout, /\/etc\/a\.conf: its record is damaged/);
  assert.match(f.stdout, /REPAIRED/);
  const again = basefs(home, ['fsck', 'sv']);
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /equal to a replay/);
  assert.equal(ok(home, ['cat', 'sv:/etc/a.conf']), 'alpha\n');

  // A listing record that names a path the view does not have, and a missing one.
  await withDb(home, 'sv', async (db) => {
    await db.del('v!d!/etc\0b.conf');
    await db.put('v!d!/etc\0ghost', (await db.get('v!d!/etc\0a.conf'))!);
  });
  const noRepair = basefs(home, ['fsck', '--no-repair', 'sv']);
  assert.equal(noRepair.code, 1);
  assert.match(noRepair.stdout, /\/etc\/b\.conf: missing from its directory's stored listing/);
  assert.match(noRepair.stdout, /ghost/);
  assert.match(noRepair.stdout, /not repaired/);
  assert.equal(basefs(home, ['fsck', 'sv']).code, 1);
  assert.equal(basefs(home, ['fsck', 'sv']).code, 0);
  assert.deepEqual(ok(home, ['ls', 'sv:/etc']).trim().split('\n'), ['a.conf', 'b.conf', 'moved']);
});

test('a data directory without a stored view (written by an earlier release) gets one on first open, with a notice', { timeout: 120_000 }, async (t) => {
  const home = setup(t);
  const before = ok(home, ['ls', '-l', 'sv:/etc']);
  // An earlier release wrote the same keys except v!...
  await withDb(home, 'sv', async (db) => {
    const keys: string[] = [];
    for await (const k of db.keys({ gte: 'v!', lt: 'v"' })) keys.push(k);
    assert.ok(keys.length > 10);
    await db.batch(keys.map((key) => ({ type: 'del' as const, key })));
  });
  const first = basefs(home, ['ls', '-l', 'sv:/etc']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, before, 'nothing lost');
  assert.match(first.stderr, /building the stored view of sv from its log \(once/);
  const second = basefs(home, ['ls', '-l', 'sv:/etc']);
  assert.equal(second.stderr, '', 'built once');
  assert.equal(basefs(home, ['fsck', 'sv']).code, 0);
});
