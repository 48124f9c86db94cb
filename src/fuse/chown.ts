import type { IdMap } from './owners.ts';
import { fail, EPERM } from './errno.ts';

// owner/group as the log records them (names; '' or absent = not recorded).
export interface Owned {
  owner?: string;
  group?: string;
}

const KEEP = 0xffffffff; // chown's -1, as fuse-native passes it (uint32)

export interface Caller {
  uid: number;
  gid: number;
  groups: number[];
}

function processCaller(): Caller {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
}

// The names chown(path, uid, gid) records, or null when it changes nothing.
// shown: the ids getattr shows for the path now, cur: what the log records.
// checkCaller: without default_permissions (no --allow-other) the kernel leaves chown's
// permission check to the filesystem, and the only possible caller is the mounting user; its
// rule is the kernel's (chown_ok/chgrp_ok): root may set anything; anyone else may only give a
// file it owns a group it belongs to (or keep the owner as is), else EPERM. With
// --allow-other the kernel has checked the real caller against what getattr shows.
export function chownNames(ids: IdMap, shown: { uid: number; gid: number; cur: Owned }, uid: number, gid: number, checkCaller: boolean, caller: Caller = processCaller()): { owner: string; group: string } | null {
  const setU = uid !== KEEP && uid !== -1;
  const setG = gid !== KEEP && gid !== -1;
  if (checkCaller && caller.uid !== 0) {
    const owns = caller.uid === shown.uid;
    if (setU && !(owns && uid === shown.uid)) fail(EPERM, `only root can give a file to another user (uid ${uid})`);
    if (setG && !(owns && (gid === shown.gid || gid === caller.gid || caller.groups.includes(gid)))) fail(EPERM, `not the owner, or not a member of group ${gid}`);
  }
  const owner = setU ? ids.userName(uid) : (shown.cur.owner ?? '');
  const group = setG ? ids.groupName(gid) : (shown.cur.group ?? '');
  if (owner === (shown.cur.owner ?? '') && group === (shown.cur.group ?? '')) return null;
  return { owner, group };
}
