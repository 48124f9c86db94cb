import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPrivateKey } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { generateKeyPair, signBytes, verifyBytes, formatPublicKey, parsePublicKey, fingerprint, keyPairFromPrivate } from '../../src/crypto/keys.ts';
import { sha256 } from '../../src/crypto/hash.ts';

// node:crypto is the hot path; @noble is an independent implementation that must agree.
test('node:crypto signatures verify with @noble/curves, and the reverse', () => {
  const kp = generateKeyPair();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (msg) => {
    const sig = signBytes(kp.privateKey, msg);
    assert.ok(ed25519.verify(sig, msg, kp.publicKey));
  }), { numRuns: 100 });
  const sk = ed25519.utils.randomSecretKey();
  const pk = ed25519.getPublicKey(sk);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (msg) => {
    assert.ok(verifyBytes(pk, msg, ed25519.sign(msg, sk)));
    const bad = ed25519.sign(msg, sk);
    bad[0] ^= 1;
    assert.equal(verifyBytes(pk, msg, bad), false);
  }), { numRuns: 100 });
});

test('same key gives the same public key in both libraries', () => {
  const sk = ed25519.utils.randomSecretKey();
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), sk]);
  const kp = keyPairFromPrivate(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  assert.deepEqual(Buffer.from(kp.publicKey), Buffer.from(ed25519.getPublicKey(sk)));
});

test('SHA-256 agrees with @noble/hashes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (b) => {
    assert.deepEqual(Buffer.from(sha256(b)), Buffer.from(nobleSha256(b)));
  }), { numRuns: 200 });
});

test('public key text form round-trips; private keys and junk are refused', () => {
  const kp = generateKeyPair();
  const s = formatPublicKey(kp.publicKey);
  assert.match(s, /^ed25519:[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(parsePublicKey(s), kp.publicKey);
  // 64 hex digits is how a seed is usually written: refused, and never repeated back.
  const hex = Buffer.from(kp.publicKey).toString('hex');
  assert.throws(() => parsePublicKey(hex), (e: Error) => /seed/.test(e.message) && !e.message.includes(hex));
  assert.equal(fingerprint(kp.publicKey).length, 16);
  assert.throws(() => parsePublicKey('-----BEGIN PRIVATE KEY-----'), /private key/);
  assert.throws(() => parsePublicKey('ed25519:abc'), /not 32/);
  assert.throws(() => parsePublicKey('hello'), (e: Error) => /not a public key/.test(e.message) && !e.message.includes('hello'));
});
