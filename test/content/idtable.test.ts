import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdTable } from '../../src/content/idtable.ts';
import { hex } from './helpers.ts';

test('id table behaves like a map (model-based, with growth and deletes)', () => {
  // ids share prefixes to force probe chains
  const idArb = fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 3 })).map(([a, b]) => {
    const id = new Uint8Array(32);
    id[0] = a & 7; // few distinct slot hashes
    id[31] = a;
    id[30] = b;
    return id;
  });
  const opArb = fc.oneof(
    fc.record({ op: fc.constant('set' as const), id: idArb, pack: fc.integer({ min: 1, max: 9 }), off: fc.nat(), len: fc.nat({ max: 1 << 20 }) }),
    fc.record({ op: fc.constant('del' as const), id: idArb }),
  );
  fc.assert(fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
    const t = new IdTable(16);
    const model = new Map<string, { pack: number; off: number; len: number }>();
    for (const o of ops) {
      if (o.op === 'set') {
        t.set(o.id, o.pack, o.off, o.len);
        model.set(hex(o.id), { pack: o.pack, off: o.off, len: o.len });
      } else {
        assert.equal(t.delete(o.id), model.delete(hex(o.id)));
      }
      assert.equal(t.count, model.size);
    }
    let bytes = 0;
    for (const [k, v] of model) {
      assert.deepEqual(t.get(Buffer.from(k, 'hex')), v);
      bytes += v.len;
    }
    assert.equal(t.bytes, bytes);
    const listed = [...t.entries()].map((e) => hex(e.id)).sort();
    assert.deepEqual(listed, [...model.keys()].sort());
  }));
});

test('id table holds many entries', () => {
  const t = new IdTable();
  const id = new Uint8Array(32);
  const dv = new DataView(id.buffer);
  for (let i = 0; i < 100000; i++) { dv.setUint32(0, i * 2654435761); dv.setUint32(28, i); t.set(id, 1 + (i % 5), i * 100, i % 1000); }
  assert.equal(t.count, 100000);
  for (let i = 0; i < 100000; i += 997) { dv.setUint32(0, i * 2654435761); dv.setUint32(28, i); assert.deepEqual(t.get(id), { pack: 1 + (i % 5), off: i * 100, len: i % 1000 }); }
  dv.setUint32(28, 100001);
  assert.equal(t.has(id), false);
});
