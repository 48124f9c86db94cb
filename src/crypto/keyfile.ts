import { readFileSync, statSync, existsSync } from 'node:fs';
import { writeFileAtomic } from './atomic.ts';
import { generateKeyPair, keyPairFromPrivate, privateKeyFromPem, privateKeyToPem, type KeyPair } from './keys.ts';
import { UserError } from '../errors/errors.ts';

// Written atomically (crash-safe, and the temp file is exclusive and private: see atomic.ts).
export { writeFileAtomic } from './atomic.ts';

export function createKeyFile(path: string, force: boolean): KeyPair {
  if (existsSync(path) && !force) {
    throw new UserError(`key file ${path} already exists; use --force to overwrite it (the old key is lost)`);
  }
  const kp = generateKeyPair();
  writeFileAtomic(path, privateKeyToPem(kp.privateKey), 0o600);
  return kp;
}

export function loadKeyFile(path: string): KeyPair {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`no key at ${path}; create one with: basefs genkey${path ? ' ' + path : ''} (or pass --key PATH)`);
  }
  if (!st.isFile()) throw new UserError(`key path ${path} is not a file`);
  if ((st.mode & 0o077) !== 0) {
    throw new UserError(`key file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); fix with: chmod 600 ${path}`);
  }
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read key file ${path}: ${(e as Error).message}`);
  }
  try {
    return keyPairFromPrivate(privateKeyFromPem(pem));
  } catch (e) {
    throw new UserError(`key file ${path} is corrupt or not an Ed25519 private key (PEM PKCS#8): ${(e as Error).message}`);
  }
}
