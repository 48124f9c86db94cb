import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { writeFileAtomic } from '../crypto/keyfile.ts';
import { UserError } from '../errors/errors.ts';

// The node's libp2p identity for one filesystem: FS_DIR/peer.key (protobuf-encoded Ed25519,
// mode 0600, written atomically). It only names this node on the network; it has nothing to
// do with the user's signing key, which never leaves its own file.
export async function loadOrCreatePeerKey(fsDirPath: string): Promise<PrivateKey> {
  const p = join(fsDirPath, 'peer.key');
  if (existsSync(p)) {
    const st = statSync(p);
    if ((st.mode & 0o077) !== 0) throw new UserError(`peer key ${p} is readable by group or others; fix with: chmod 600 ${p}`);
    try {
      return privateKeyFromProtobuf(new Uint8Array(readFileSync(p)));
    } catch (e) {
      throw new UserError(`peer key ${p} is corrupt (${(e as Error).message}); delete it to get a new peer id`);
    }
  }
  const k = await generateKeyPair('Ed25519');
  writeFileAtomic(p, privateKeyToProtobuf(k), 0o600);
  return k;
}
