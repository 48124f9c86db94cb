// Byte-level mutations for fuzzing: fast-check generates the operations (so failures shrink
// and print a seed), apply() runs them on a copy.
import fc from 'fast-check';

export type Mutation =
  | { t: 'flip'; pos: number; bit: number }
  | { t: 'set'; pos: number; val: number }
  | { t: 'ins'; pos: number; bytes: Uint8Array }
  | { t: 'del'; pos: number; len: number }
  | { t: 'trunc'; len: number }
  | { t: 'dup'; pos: number; len: number }
  | { t: 'splice'; pos: number; from: number; len: number }
  | { t: 'varint'; pos: number; len: number }
  | { t: 'extend'; bytes: Uint8Array };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('set' as const), pos: fc.nat(), val: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x2f, 0x2e, 0x00) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ins' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('trunc' as const), len: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dup' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('splice' as const), pos: fc.nat(), from: fc.nat(), len: fc.integer({ min: 1, max: 96 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('varint' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
);

export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });

// Applies mutations to a copy of `b`; `donor` supplies bytes for splices.
export function mutate(b: Uint8Array, ms: Mutation[], donor: Uint8Array = b): Uint8Array {
  let x = Buffer.from(b);
  for (const m of ms) {
    const n = x.length;
    switch (m.t) {
      case 'flip':
        if (n) x[m.pos % n] ^= 1 << m.bit;
        break;
      case 'set':
        if (n) x[m.pos % n] = m.val;
        break;
      case 'ins': {
        const p = m.pos % (n + 1);
        x = Buffer.concat([x.subarray(0, p), m.bytes, x.subarray(p)]);
        break;
      }
      case 'del': {
        const p = n ? m.pos % n : 0;
        x = Buffer.concat([x.subarray(0, p), x.subarray(p + m.len)]);
        break;
      }
      case 'trunc':
        x = x.subarray(0, n ? m.len % n : 0);
        break;
      case 'dup': {
        const p = n ? m.pos % n : 0;
        const seg = x.subarray(p, p + m.len);
        x = Buffer.concat([x.subarray(0, p), seg, seg, x.subarray(p + seg.length)]);
        break;
      }
      case 'splice': {
        if (!n || !donor.length) break;
        const p = m.pos % n;
        const f = m.from % donor.length;
        const seg = donor.subarray(f, f + m.len);
        x = Buffer.concat([x.subarray(0, p), seg, x.subarray(p + seg.length)]);
        break;
      }
      case 'varint': {
        // A run of continuation bytes: an over-long or huge length/integer.
        if (!n) break;
        const p = m.pos % n;
        for (let i = 0; i < m.len && p + i < x.length; i++) x[p + i] = 0xff;
        break;
      }
      case 'extend':
        x = Buffer.concat([x, m.bytes]);
        break;
    }
  }
  return new Uint8Array(x);
}

// Outcome classes for the results table.
export class Tally {
  counts = new Map<string, number>();
  add(k: string): void {
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  get total(): number {
    let s = 0;
    for (const v of this.counts.values()) s += v;
    return s;
  }
  toString(): string {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join('; ');
  }
}
