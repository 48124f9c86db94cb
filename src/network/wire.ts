// Binary building blocks of every network message: unsigned LEB128 integers, length-prefixed
// byte strings, and a bounded reader that throws ProtocolError on anything malformed. Every
// length read from the wire is checked against an explicit maximum before any allocation.

import { ByteReader, ByteWriter } from '../log/bytes.ts';

export class ProtocolError extends Error {}

export class WireWriter extends ByteWriter {}

export class WireReader extends ByteReader {
  constructor(buf: Uint8Array) {
    super(buf, (m) => new ProtocolError(m), 'message');
  }
}
