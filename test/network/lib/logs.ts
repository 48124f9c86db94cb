import { Kind, type Entry } from '../../../src/log/entry.ts';
import { createEntry } from '../../../src/log/sign.ts';
import type { KeyPair } from '../../../src/crypto/keys.ts';

// Builds signed logs for tests: a bootstrap and chains of MKDIR entries.
export function bootstrap(kp: KeyPair, name: string): Entry {
  return createEntry(kp, { kind: Kind.BOOTSTRAP, path: '/', name, mode: 0o755, time: 1_000_000 });
}

// `n` entries, each depending on the previous one (or on `from`), MKDIR /<prefix><i>.
export function chain(kp: KeyPair, boot: Entry, from: Entry[], n: number, prefix: string): Entry[] {
  const out: Entry[] = [];
  let deps = from.map((e) => e.id);
  for (let i = 0; i < n; i++) {
    const e = createEntry(kp, { kind: Kind.MKDIR, path: `/${prefix}${i}`, fsId: boot.id, deps, mode: 0o755, time: 1_000_001 + i });
    out.push(e);
    deps = [e.id];
  }
  return out;
}
