// Binary building blocks of every network message: unsigned LEB128 integers, length-prefixed
// byte strings, and a bounded reader that throws ProtocolError on anything malformed. Every
// length read from the wire is checked against an explicit maximum before any allocation.

export class ProtocolError extends Error {}

export class WireWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
  }
  private ensure(n: number) {
    if (this.pos + n <= this.buf.length) return;
    const nb = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }
  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an unsigned integer: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  bytes(b: Uint8Array): this {
    return this.uint(b.length).raw(b);
  }
  str(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }
  // A list of fixed 32-byte ids.
  ids(list: Uint8Array[]): this {
    this.uint(list.length);
    for (const id of list) {
      if (id.length !== 32) throw new RangeError('id must be 32 bytes');
      this.raw(id);
    }
    return this;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class WireReader {
  pos = 0;
  buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }
  private need(n: number) {
    if (this.pos + n > this.buf.length) throw new ProtocolError('truncated message');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  uint(max = Number.MAX_SAFE_INTEGER): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (v > max) throw new ProtocolError(`value ${v} exceeds ${max}`);
        return v;
      }
      mul *= 0x80;
    }
    throw new ProtocolError('integer too long');
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  bytes(max: number): Uint8Array {
    return this.raw(this.uint(max));
  }
  str(max: number): string {
    const b = this.bytes(max);
    const s = Buffer.from(b).toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) throw new ProtocolError('invalid UTF-8');
    return s;
  }
  ids(max: number): Uint8Array[] {
    const n = this.uint(max);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(new Uint8Array(this.raw(32)));
    return out;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new ProtocolError('trailing bytes in message');
  }
}
