// Temporary filesystems for the reliability tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Filesystem } from '../../../src/node/filesystem.ts';
import { generateKeyPair, type KeyPair } from '../../../src/crypto/keys.ts';

type T = { after: (fn: () => Promise<void> | void) => void };

export function tmpDir(t: T, prefix = 'basefs-rel-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// A new filesystem owned by a fresh root key.
export async function makeFs(t: T, name = 'rel'): Promise<{ fs: Filesystem; home: string; kp: KeyPair }> {
  const home = tmpDir(t);
  const kp = generateKeyPair();
  const fs = await Filesystem.create(home, name, kp, []);
  t.after(() => fs.close().catch(() => {}));
  return { fs, home, kp };
}

// An empty node for the same filesystem name, fed `src`'s log through ingest (as from a peer).
export async function replica(t: T, src: Filesystem, kp: KeyPair | null = null): Promise<Filesystem> {
  const home = tmpDir(t);
  const fs = await Filesystem.open(home, src.name, kp, { allowEmpty: true });
  t.after(() => fs.close().catch(() => {}));
  const all = [...src.dag.ordered()].map((n) => n.entry.bytes);
  const rep = await fs.ingest(all);
  if (rep.rejected.length) throw new Error(`replica rejected ${rep.rejected.length}: ${rep.rejected[0].reason}`);
  return fs;
}
