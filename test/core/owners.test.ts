import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeEntry, VERSION, VERSION_OWNERS } from '../../src/log/codec.ts';
import { Dag } from '../../src/log/dag.ts';
import { Kind } from '../../src/log/entry.ts';
import { FsState } from '../../src/view/state.ts';
import { World, key } from './view-harness.ts';

// Issue 13 item 5: owner and group are recorded by name in WRITE/MKDIR/SYMLINK/SETATTR.

// Entries and the view digest written by the code before owners existed (main at ccfdf44,
// fixed key): they must read back byte for byte, with the same ids and the same digest.
const OLD = JSON.parse(readFileSync(new URL('./fixtures/log-before-owners.json', import.meta.url), 'utf8')) as { entries: string[]; viewDigest: string };

test('a log written before owners reads back unchanged: same ids, no owners, same viewDigest', () => {
  const dag = new Dag();
  for (const hex of OLD.entries) {
    const bytes = Buffer.from(hex, 'hex');
    const e = decodeEntry(bytes);
    assert.equal(e.bytes[0], VERSION);
    assert.equal(e.owner, '');
    assert.equal(e.group, '');
    assert.equal(dag.add(e).status, 'applied');
  }
  const st = new FsState(dag);
  assert.equal(st.lookup('/etc/key')!.mode, 0o600);
  assert.equal(st.lookup('/etc/key')!.owner, '');
  assert.equal(st.viewDigest(), OLD.viewDigest);
});

test('an entry with owner or group is version 2 and round trips; without both it stays version 1', () => {
  const w = new World();
  const a = w.make(w.root, { kind: Kind.SETATTR, path: '/x', mode: 0o600, mtime: 1, owner: 'bird', group: '' });
  assert.equal(a.bytes[0], VERSION_OWNERS);
  const d = decodeEntry(a.bytes);
  assert.equal(d.idHex, a.idHex);
  assert.deepEqual([d.owner, d.group], ['bird', '']);
  const b = w.make(w.root, { kind: Kind.WRITE, path: '/x', root: new Uint8Array(32), size: 0, mode: 0o644, mtime: 1 });
  assert.equal(b.bytes[0], VERSION);
  // version 2 with both empty would be a second encoding of the same entry: refused
  const body = Buffer.from(b.body);
  const v2 = Buffer.concat([Buffer.from([VERSION_OWNERS]), body.subarray(1), Buffer.from([0, 0]), Buffer.from(b.sig)]);
  assert.throws(() => decodeEntry(v2), /non-canonical/);
});

test('owner and group are refused on kinds without attributes and when malformed', () => {
  const w = new World();
  assert.throws(() => w.make(w.root, { kind: Kind.DELETE, path: '/x', owner: 'bird' }), /owner or group on wrong kind/);
  assert.throws(() => w.make(w.root, { kind: Kind.GRANT, path: '/x', key: key(1).publicKey, group: 'staff' }), /wrong kind/);
  for (const bad of ['a:b', 'a b', 'a/b', 'tab\t', '007', '4294967295', 'x'.repeat(256)]) {
    assert.throws(() => w.make(w.root, { kind: Kind.SETATTR, path: '/x', owner: bad }), /owner/, bad);
  }
  for (const good of ['bird', 'www-data', '0', '65534', 'x'.repeat(255), 'jürgen']) {
    assert.equal(decodeEntry(w.make(w.root, { kind: Kind.MKDIR, path: '/d', group: good }).bytes).group, good);
  }
});

test('the view shows the winning attributes owner and group; a later WRITE carries its own; the digest covers them', () => {
  const w = new World();
  w.mkdir(w.root, '/etc');
  w.write(w.root, '/etc/key', 'k');
  const st = () => new FsState(w.dag);
  const before = st().viewDigest();
  w.add(w.root, { kind: Kind.SETATTR, path: '/etc/key', mode: 0o600, mtime: 5, owner: 'bird', group: 'bird' });
  let n = st().lookup('/etc/key')!;
  assert.deepEqual([n.owner, n.group, n.mode], ['bird', 'bird', 0o600]);
  const chowned = st().viewDigest();
  assert.notEqual(chowned, before);
  // a content change that keeps them (what Filesystem.writeContent and the mount do)
  w.write(w.root, '/etc/key', 'k2', undefined, { mode: 0o600, owner: 'bird', group: 'bird' });
  n = st().lookup('/etc/key')!;
  assert.deepEqual([n.owner, n.group], ['bird', 'bird']);
  // a chgrp of a directory, and of an implicit one
  w.add(w.root, { kind: Kind.SETATTR, path: '/etc', mode: 0o755, mtime: 5, group: 'staff' });
  assert.deepEqual([st().lookup('/etc')!.owner, st().lookup('/etc')!.group], ['', 'staff']);
  // the same entry set in another order (newest first: parked until their deps arrive) gives
  // the same view and digest
  const dag2 = new Dag();
  for (const e of [...w.all].reverse()) dag2.add(e);
  assert.equal(dag2.size, w.dag.size);
  assert.equal(new FsState(dag2).viewDigest(), st().viewDigest());
});
