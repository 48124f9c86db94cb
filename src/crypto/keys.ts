import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { sha256, toHex } from './hash.ts';

// Public keys are shown as "ed25519:" + base64url of the 32 raw bytes: printable, copy-pastable,
// unambiguous. A fingerprint is the first 16 hex digits of SHA-256(raw key).
export const PUBKEY_PREFIX = 'ed25519:';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: Uint8Array; // raw 32 bytes
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: rawPublicKey(publicKey) };
}

export function rawPublicKey(k: KeyObject): Uint8Array {
  const der = k.export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(der.length - 32));
}

const pubCache = new Map<string, KeyObject>();
export function publicKeyObject(raw: Uint8Array): KeyObject {
  const hex = toHex(raw);
  let k = pubCache.get(hex);
  if (!k) {
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    if (pubCache.size > 10000) pubCache.clear();
    pubCache.set(hex, k);
  }
  return k;
}

export function signBytes(priv: KeyObject, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, msg, priv));
}

export function verifyBytes(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  try {
    return verify(null, msg, publicKeyObject(pub), sig);
  } catch {
    return false;
  }
}

export function formatPublicKey(raw: Uint8Array): string {
  return PUBKEY_PREFIX + Buffer.from(raw).toString('base64url');
}

export function fingerprint(raw: Uint8Array): string {
  return toHex(sha256(raw)).slice(0, 16);
}

// Only the printed public form "ed25519:<base64url>" (fingerprints are resolved against the
// log by the caller). Refused: PEM private keys and 64 hex digits (the form a raw Ed25519 seed
// is usually written in). Messages never repeat the input: it may be secret.
export function parsePublicKey(s: string): Uint8Array {
  const t = s.trim();
  if (looksPrivate(t)) throw new Error('that is a private key; give the public key (ed25519:...) or its fingerprint, as printed by basefs genkey');
  if (/^[0-9a-f]{64}$/i.test(t)) throw new Error('64 hex digits look like a private key seed, not a public key; give the public key (ed25519:...) or its fingerprint, as printed by basefs genkey');
  if (!t.startsWith(PUBKEY_PREFIX)) throw new Error(`not a public key (${t.length} characters): expected ed25519:<base64url> or a fingerprint, as printed by basefs genkey`);
  const raw = Buffer.from(t.slice(PUBKEY_PREFIX.length), 'base64url');
  if (raw.length !== 32) throw new Error(`not a public key: the ed25519: form decodes to ${raw.length} bytes, not 32`);
  return new Uint8Array(raw);
}

// A PEM block holding a private key (or something meant to be one).
export function looksPrivate(s: string): boolean {
  return /PRIVATE KEY|-----BEGIN/.test(s);
}

// The 32-byte seed of a private key: grant refuses a "public key" equal to it.
export function seedOf(k: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(k.export({ format: 'jwk' }).d as string, 'base64url'));
}

export function privateKeyFromPem(pem: string): KeyObject {
  const k = createPrivateKey({ key: pem, format: 'pem' });
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`key type is ${k.asymmetricKeyType}, not ed25519`);
  return k;
}

export function privateKeyToPem(k: KeyObject): string {
  return k.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function keyPairFromPrivate(k: KeyObject): KeyPair {
  return { privateKey: k, publicKey: rawPublicKey(createPublicKey(k)) };
}
