import { toHex } from '../crypto/hash.ts';
import type { LogStore } from '../storage/logstore.ts';
import { DIR, NODE, VIEW_FORMAT, metaOps, pathOps, type Op, type ViewMeta, type ViewStore } from '../storage/viewstore.ts';
import type { FsState } from '../view/state.ts';
import type { Filesystem } from './filesystem.ts';

// Keeping the stored view (storage/viewstore.ts) equal to the view the core computes: the
// records of each append, the check at open, and the rebuild.

// Heads as the view meta records them: sorted, so that the order the Dag keeps them in does not matter.
export function headsKey(heads: Uint8Array[]): string {
  return heads.map(toHex).sort().join(',');
}

function headsKeyOfStored(raw: Uint8Array): string {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 32 <= raw.length; i += 32) out.push(raw.subarray(i, i + 32));
  return headsKey(out);
}

// Whether the stored view reflects exactly the stored log (written by this release, in the
// same batch as the last append): then a lazy open may answer from it.
export async function viewCurrent(log: LogStore, view: ViewStore): Promise<boolean> {
  const meta = await view.meta();
  if (!meta || meta.format !== VIEW_FORMAT) return false;
  const raw = await log.db.get('m!heads');
  return raw !== undefined && headsKeyOfStored(raw) === meta.heads;
}

export function wantedMeta(fs: Filesystem): ViewMeta {
  return { format: VIEW_FORMAT, heads: headsKey(fs.dag.headIds()), digest: fs.state.viewDigest(), entries: fs.dag.size };
}

// The records an append writes: the paths it changed, and the meta of the view after it.
export function viewOps(fs: Filesystem, changed: string[]): Op[] {
  const ops: Op[] = [];
  for (const p of changed) ops.push(...pathOps(p, fs.state.lookup(p)));
  ops.push(...metaOps(wantedMeta(fs)));
  return ops;
}

// Every visible path of a state, parents before children.
export function* allPaths(state: FsState): Generator<string> {
  if (!state.lookup('/')) return;
  const stack = ['/'];
  while (stack.length) {
    const p = stack.pop()!;
    yield p;
    const kids = state.readdir(p);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(p === '/' ? '/' + kids[i] : p + '/' + kids[i]);
  }
}

// After a replay: the stored view must describe what the replay gave. Its meta is compared
// (a record-by-record comparison is fsck's job); a missing or different view is rebuilt.
export async function syncView(fs: Filesystem, progress?: (done: number, total: number) => void): Promise<void> {
  const meta = await fs.view.meta();
  const want = wantedMeta(fs);
  if (meta && meta.format === want.format && meta.heads === want.heads && meta.digest === want.digest && meta.entries === want.entries) return;
  if (!meta && fs.dag.size === 0) {
    // A new, empty log: its (empty) view starts here.
  } else if (!meta) fs.tell(`building the stored view of ${fs.name} from its log (once: the data directory was written by a release without it)`);
  else {
    const what = meta.format !== want.format ? `format ${meta.format}, this release writes ${want.format}` : meta.heads !== want.heads ? 'it reflects other heads' : meta.entries !== want.entries ? `it counts ${meta.entries} entries, the log holds ${want.entries}` : 'its digest differs';
    fs.tell(`the stored view of ${fs.name} did not match its log (${what}); rebuilding it from the log`);
  }
  await rebuildView(fs, progress);
}

// Replaces the stored view with one written from the state in memory. The meta goes first
// and comes back last: a crash in between leaves no view, which the next open rebuilds.
export async function rebuildView(fs: Filesystem, progress?: (done: number, total: number) => void): Promise<number> {
  const db = fs.log.db;
  await fs.log.write([{ type: 'del', key: 'v!m!format' }]);
  let batch: Op[] = [];
  const flush = async () => {
    if (batch.length) await db.batch(batch as never);
    batch = [];
  };
  for (const prefix of [NODE, DIR]) {
    for await (const k of db.keys({ gte: prefix, lt: prefix.slice(0, -1) + '"' })) {
      batch.push({ type: 'del', key: k });
      if (batch.length >= 10_000) await flush();
    }
  }
  await flush();
  let n = 0;
  const total = fs.state.info().paths;
  for (const p of allPaths(fs.state)) {
    batch.push(...pathOps(p, fs.state.lookup(p)));
    if (++n % 10_000 === 0) {
      await flush();
      progress?.(n, total);
    }
  }
  await flush();
  fs.view.forget();
  await fs.log.write(metaOps(wantedMeta(fs)));
  return n;
}
