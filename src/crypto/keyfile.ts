import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync, existsSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { generateKeyPair, keyPairFromPrivate, privateKeyFromPem, privateKeyToPem, type KeyPair } from './keys.ts';
import { UserError } from '../node/errors.ts';

// Write via temp file + fsync + rename so a crash never leaves a half-written key.
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems cannot fsync a directory */ }
}

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
