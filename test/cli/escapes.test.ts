// Issue 12.6: paths, names and messages that come from other people are printed with their
// control characters escaped, so they cannot drive the terminal (title, screen clear, fake
// lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basefs, ok, tmpHome } from './helpers.ts';

const EVIL = 'x\x1b]0;pwned\x07\x1b[2Jy\nfake line\x9b31m';
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

test('show, ls, log, keys and errors escape control characters in paths', { timeout: 120_000 }, (t) => {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'esc']);
  const p = `esc:/${EVIL}`;
  ok(home, ['write', p], 'hi\n');
  ok(home, ['mkdir', `esc:/d${EVIL}`]);
  const bob = JSON.parse(ok(home, ['--json', 'genkey', `${home}/b.key`]));
  ok(home, ['grant', bob.publicKey, `esc:/d${EVIL}`]);
  ok(home, ['mv', p, `/z${EVIL}`]);
  const outputs: Record<string, string> = {
    show: ok(home, ['show', 'esc']),
    ls: ok(home, ['ls', 'esc:/']),
    'ls -l': ok(home, ['ls', '-l', 'esc:/']),
    log: ok(home, ['log', `esc:/z${EVIL}`]),
    keys: ok(home, ['keys', 'esc']),
    'cat error': basefs(home, ['cat', p]).stderr,
  };
  for (const [cmd, o] of Object.entries(outputs)) {
    assert.ok(o.length > 0, `${cmd} printed something`);
    assert.doesNotMatch(o, CONTROL, `${cmd} printed a raw control character: ${JSON.stringify(o)}`);
    assert.ok(o.includes('\\x1b]0;pwned\\x07\\x1b[2Jy\\x0afake line\\x9b31m'), `${cmd} shows the escaped path: ${JSON.stringify(o)}`);
  }
  // A path with a newline stays on its line.
  assert.equal(outputs.ls.trim().split('\n').length, 3, outputs.ls);
  // --json keeps the exact path (JSON escapes it).
  const ls = JSON.parse(ok(home, ['--json', 'ls', 'esc:/']));
  assert.ok(ls.some((r: { name: string }) => r.name === `z${EVIL}`));
});
