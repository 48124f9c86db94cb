import { isUtf8 } from 'node:buffer';

// The binary building blocks shared by the entry codec and the network messages: unsigned
// LEB128 integers (safe integers only) and length-prefixed byte strings. Readers check every
// length against an explicit maximum before using it and throw the caller's error type.

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
  }
  ensure(n: number): void {
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

export class ByteReader {
  pos = 0;
  buf: Uint8Array;
  private fail: (msg: string) => Error;
  private what: string;
  constructor(buf: Uint8Array, fail: (msg: string) => Error, what: string) {
    this.buf = buf;
    this.fail = fail;
    this.what = what;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw this.fail(`truncated ${this.what}`);
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
      if (!Number.isSafeInteger(v)) throw this.fail('integer too large');
      if ((b & 0x80) === 0) {
        if (v > max) throw this.fail(`value ${v} exceeds ${max}`);
        return v;
      }
      mul *= 0x80;
    }
    throw this.fail('integer too long');
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  bytes(max: number): Uint8Array {
    const n = this.uint();
    if (n > max) throw this.fail(`field of ${n} bytes exceeds ${max}`);
    return this.raw(n);
  }
  str(max: number): string {
    const b = this.bytes(max);
    if (b.length === 0) return '';
    if (!isUtf8(b)) throw this.fail('invalid UTF-8');
    return Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8');
  }
  // A list of at most `max` 32-byte ids, each copied out of the buffer.
  ids(max: number): Uint8Array[] {
    const n = this.uint(max);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(new Uint8Array(this.raw(32)));
    return out;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw this.fail(`trailing bytes after ${this.what}`);
  }
}
