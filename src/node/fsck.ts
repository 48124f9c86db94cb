import { verifyEntry } from '../log/sign.ts';
import { DIR, NODE, ViewStore, nodeRecord } from '../storage/viewstore.ts';
import { Filesystem } from './filesystem.ts';
import { allPaths, rebuildView, wantedMeta } from './viewsync.ts';
import { UserError } from '../errors/errors.ts';

export interface FsckReport {
  name: string;
  entries: number;
  logDamage: string | null; // a stored entry that no longer matches its id (open refuses such a log)
  badSignatures: { id: string; position: number }[];
  view: { paths: number; problems: string[]; repaired: boolean };
  ok: boolean;
}

const MAX_LISTED = 50; // problems named one by one; the rest are counted

// Re-verifies every stored entry (its id, on open, and its signature), replays the log into a
// fresh view in memory and compares it, record by record, with the stored view; rebuilds the
// stored view when they differ (unless `repair` is false). The log itself is never changed: a
// damaged entry cannot be repaired here (its bytes are gone), only fetched again from a peer.
export async function fsck(home: string, name: string, opts: { repair?: boolean; progress?: (msg: string) => void } = {}): Promise<FsckReport> {
  const say = opts.progress ?? (() => {});
  const rep: FsckReport = { name, entries: 0, logDamage: null, badSignatures: [], view: { paths: 0, problems: [], repaired: false }, ok: false };
  let fs: Filesystem;
  try {
    fs = await Filesystem.open(home, name, null, { checkView: false, onProgress: (n) => say(`reading the log: ${n} entries`) });
  } catch (e) {
    if ((e as UserError).code !== 'ECORRUPT') throw e;
    rep.logDamage = (e as Error).message;
    return rep;
  }
  try {
    rep.entries = fs.dag.size;
    let n = 0;
    let told = Date.now();
    for (const node of fs.dag.ordered()) {
      if (!verifyEntry(node.entry)) rep.badSignatures.push({ id: node.entry.idHex, position: node.seq });
      if (++n % 1000 === 0 && Date.now() - told > 2000) {
        told = Date.now();
        say(`verifying signatures: ${n} of ${rep.entries}`);
      }
    }
    rep.view.problems = await compareView(fs);
    rep.view.paths = fs.state.info().paths;
    if (rep.view.problems.length && opts.repair !== false) {
      say(`rebuilding the stored view of ${name} from the log`);
      await rebuildView(fs, (done, total) => say(`stored view: ${done} of ${total} paths written`));
      rep.view.repaired = (await compareView(fs)).length === 0;
    }
    rep.ok = !rep.logDamage && rep.badSignatures.length === 0 && rep.view.problems.length === 0;
    return rep;
  } finally {
    await fs.close();
  }
}

// Differences between the stored view and the replayed one, each naming the path.
export async function compareView(fs: Filesystem): Promise<string[]> {
  const problems: string[] = [];
  let more = 0;
  const note = (p: string) => (problems.length < MAX_LISTED ? problems.push(p) : more++);
  const meta = await fs.view.meta();
  const want = wantedMeta(fs);
  if (!meta) note('the stored view is missing (or was being rebuilt when the node stopped)');
  else {
    if (meta.format !== want.format) note(`stored view format ${meta.format}, this release writes ${want.format}`);
    if (meta.heads !== want.heads) note('the stored view reflects other heads than the log');
    if (meta.entries !== want.entries) note(`the stored view counts ${meta.entries} entries, the log holds ${want.entries}`);
    if (meta.digest !== want.digest) note(`the stored view's digest ${meta.digest.slice(0, 16)} differs from the log's ${want.digest.slice(0, 16)}`);
  }
  const db = fs.log.db;
  const seen = new Set<string>();
  for await (const [k, v] of db.iterator({ gte: NODE, lt: 'v!n"' })) {
    const path = k.slice(NODE.length);
    seen.add(path);
    const stored = ViewStore.parseNode(k, v);
    const live = fs.state.lookup(path);
    if (!stored) note(`${path}: its record is damaged (does not match its checksum)`);
    else if (!live) note(`${path}: in the stored view, but not in the log's view`);
    else if (Buffer.compare(nodeRecord(stored).value, nodeRecord(live).value) !== 0) note(`${path}: the stored record differs from the log's view`);
  }
  const listed = new Set<string>();
  for await (const [k, v] of db.iterator({ gte: DIR, lt: 'v!d"' })) {
    const [parent, child] = k.slice(DIR.length).split('\0');
    const path = parent === '/' ? '/' + child : parent + '/' + child;
    listed.add(path);
    const stored = ViewStore.parse(k, v, path);
    const live = fs.state.lookup(path);
    if (!stored) note(`${parent}: the listing record of ${child} is damaged`);
    else if (!live) note(`${parent}: lists ${child}, which the log's view does not have`);
    else if (Buffer.compare(nodeRecord(stored).value, nodeRecord(live).value) !== 0) note(`${parent}: the listing record of ${child} differs from the log's view`);
  }
  for (const p of allPaths(fs.state)) {
    if (!seen.has(p)) note(`${p}: missing from the stored view`);
    if (p !== '/' && !listed.has(p)) note(`${p}: missing from its directory's stored listing`);
  }
  if (more) problems.push(`... and ${more} more`);
  return problems;
}
