import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { basefs, ok, tmpHome } from './helpers.ts';

// Damage to a stored entry, found by the commands a user runs. classic-level is used here only
// to inflict the damage (a flipped bit in one LevelDB record), never to check the outcome.

async function flipBit(home: string, path: string, offset: (len: number) => number): Promise<string> {
  const db = new ClassicLevel<string, Uint8Array>(join(home, 'fs', 'myfs', 'log'), { valueEncoding: 'view' });
  await db.open();
  try {
    let seqKey: string | undefined;
    for await (const k of db.keys({ gt: 'p!' + path + '\0', lt: 'p!' + path + '\x01' })) seqKey = 's!' + k.slice(-12);
    assert.ok(seqKey, `a stored entry for ${path}`);
    const v = Buffer.from((await db.get(seqKey))!);
    v[offset(v.length)] ^= 0x04;
    await db.put(seqKey, v, { sync: true });
    const id = [...(await db.iterator({ gt: 'i!', lt: 'i"' }).all())].find(([, s]) => 's!' + Buffer.from(s).toString() === seqKey)![0].slice(2);
    return id;
  } finally {
    await db.close();
  }
}

function setup(t: { after: (fn: () => void) => void }): string {
  const home = tmpHome(t);
  ok(home, ['genkey']);
  ok(home, ['bootstrap', 'myfs']);
  ok(home, ['mkdir', 'myfs:/a']);
  ok(home, ['write', 'myfs:/a/f.txt'], 'hello\n');
  ok(home, ['write', 'myfs:/b.txt'], 'later\n');
  return home;
}

function assertReported(home: string, args: string[], id: string): void {
  const r = basefs(home, args);
  assert.notEqual(r.code, 0, `basefs ${args.join(' ')} must fail on a damaged log, got: ${r.stdout}`);
  assert.match(r.stderr, /damaged/);
  assert.match(r.stderr, new RegExp(`entry ${id}, path /a\\b`), 'names the damaged entry and its path');
  assert.match(r.stderr, /basefs get myfs ADDR/, 'says how to recover');
}

test('a flipped bit in a stored entry (still decodable) stops every command that replays the log, and fsck, with the entry named', { timeout: 120_000 }, async (t) => {
  const home = setup(t);
  // In the signature (the last 64 bytes): the record still decodes, but to another id.
  const id = await flipBit(home, '/a', (n) => n - 10);
  assertReported(home, ['status', 'myfs'], id);
  assertReported(home, ['log', 'myfs:/b.txt'], id);
  assertReported(home, ['write', 'myfs:/c.txt'], id);
  // ls and cat read the stored view (docs/LOG.md), written with the entries before the damage:
  // they still answer, and fsck names the damaged entry.
  assert.equal(ok(home, ['cat', 'myfs:/b.txt']), 'later\n');
  const f = basefs(home, ['fsck', 'myfs']);
  assert.equal(f.code, 1);
  assert.match(f.stdout, new RegExp(`DAMAGED: .*entry ${id}, path /a\\b`));
});

test('a flipped bit that breaks decoding is reported the same way', { timeout: 120_000 }, async (t) => {
  const home = setup(t);
  // Byte 0 is the format version: the record no longer decodes.
  const id = await flipBit(home, '/a', () => 0);
  assertReported(home, ['status', 'myfs'], id);
});
