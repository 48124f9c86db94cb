import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lengthError, checkPath } from '../../src/log/path.ts';
import { LIMITS } from '../../src/log/entry.ts';

// The plain definition the fast path of lengthError must agree with.
function naive(p: string): 'path' | 'name' | null {
  if (Buffer.byteLength(p) > LIMITS.maxPathBytes) return 'path';
  return p.split('/').some((c) => Buffer.byteLength(c) > LIMITS.maxNameBytes) ? 'name' : null;
}

const piece = fc.oneof(fc.constant('a'), fc.constant('é'), fc.constant('€'), fc.constant('😀'), fc.constant('/'));
const paths = fc.tuple(fc.array(piece, { maxLength: 1600 }), fc.integer({ min: 0, max: 300 })).map(([xs, n]) => '/' + 'x'.repeat(n) + xs.join(''));

test('lengthError: the byte limits of src/log/path.ts, for any mix of 1- to 4-byte characters', () => {
  fc.assert(fc.property(paths, (p) => {
    const want = naive(p);
    const got = lengthError(p);
    assert.equal(got === null, want === null, `${p.length} units: ${got} vs ${want}`);
    assert.equal(lengthError(p, 'path', true) === null, !p.split('/').some((c) => Buffer.byteLength(c) > LIMITS.maxNameBytes));
    if (want && !p.includes('//')) assert.match(checkPath(p.replace(/\/+$/, '') || '/') ?? '', /longer than/);
  }), { numRuns: 500 });
});

test('lengthError: the limits themselves are allowed, one byte more is not', () => {
  assert.equal(lengthError('/' + 'n'.repeat(255)), null);
  assert.match(lengthError('/' + 'n'.repeat(256)) ?? '', /name longer than 255/);
  assert.equal(lengthError('/' + 'é'.repeat(127) + 'n'), null); // 255 bytes in 128 units
  assert.match(lengthError('/' + 'é'.repeat(128)) ?? '', /name longer/);
  const deep = Array(16).fill('p'.repeat(250)).join('/');
  assert.equal(lengthError('/' + deep + '/' + 'x'.repeat(79)), null); // 4096 bytes
  assert.match(lengthError('/' + deep + '/' + 'x'.repeat(80)) ?? '', /longer than 4096/);
});
