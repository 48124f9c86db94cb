import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chownNames } from '../../src/fuse/chown.ts';
import { IdMap } from '../../src/fuse/owners.ts';

// The kernel's chown rule for a mount without --allow-other (no default_permissions), where
// the mounting user is the only caller (docs/FUSE.md, "Owners"). The real-mount test of it
// (test/fuse/owners.test.ts) needs a non-root user that may open /dev/fuse; this states the
// rule on its own so that it is checked on every machine.
const dir = mkdtempSync(join(tmpdir(), 'basefs-ids-'));
writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n');
writeFileSync(join(dir, 'group'), 'root:x:0:\nstaff:x:50:\nusers:x:100:\nnogroup:x:65534:\n');
after(() => rmSync(dir, { recursive: true, force: true }));
const ids = new IdMap({ uid: 65534, gid: 65534, passwd: join(dir, 'passwd'), group: join(dir, 'group') });
const nobody = { uid: 65534, gid: 65534, groups: [100] };
const KEEP = 0xffffffff;
const own = { uid: 65534, gid: 65534, cur: {} };

test('non-root: only a chgrp of an own file to a group it is in; root: anything', () => {
  assert.throws(() => chownNames(ids, own, 0, KEEP, true, nobody), /only root/);
  assert.throws(() => chownNames(ids, own, KEEP, 50, true, nobody), /member/);
  assert.throws(() => chownNames(ids, { uid: 0, gid: 0, cur: {} }, KEEP, 100, true, nobody), /not the owner/);
  assert.deepEqual(chownNames(ids, own, KEEP, 100, true, nobody), { owner: '', group: 'users' });
  assert.deepEqual(chownNames(ids, own, 65534, KEEP, true, nobody), { owner: 'nobody', group: '' });
  const root = { uid: 0, gid: 0, groups: [] };
  assert.deepEqual(chownNames(ids, own, 0, 50, true, root), { owner: 'root', group: 'staff' });
  // with --allow-other the kernel checked the real caller (default_permissions)
  assert.deepEqual(chownNames(ids, own, 0, 50, false, nobody), { owner: 'root', group: 'staff' });
  // nothing to change: null (no entry)
  assert.equal(chownNames(ids, { ...own, cur: { owner: 'root' } }, 0, KEEP, true, root), null);
  assert.equal(chownNames(ids, own, KEEP, KEEP, true, nobody), null);
});
