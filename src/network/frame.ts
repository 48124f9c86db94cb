import { ProtocolError } from './wire.ts';

// The part of a libp2p Stream the framing needs (also implemented by the in-memory pair in
// tests): an async iterable of byte chunks plus send/onDrain/close/abort.
export interface ByteChannel {
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  send(data: Uint8Array): boolean;
  onDrain(options?: { signal?: AbortSignal }): Promise<void>;
  close(options?: { signal?: AbortSignal }): Promise<void>;
  abort(err: Error): void;
}

export class TimeoutError extends Error {}

// Length-prefixed frames (unsigned LEB128 length, then the bytes) over a ByteChannel, with
// a maximum frame size checked before buffering and a timeout on every read and drain.
export class FramedStream {
  private it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  readonly ch: ByteChannel;
  maxFrame: number;
  timeoutMs: number;
  deadline = Infinity; // absolute ms: the whole conversation must end by then
  frameMinMs = 15_000; // a started frame must finish within max(this, its size at frameMinRate)
  frameMinRate = 32 * 1024;
  private frameDeadline = Infinity;
  // Minimum average rate of the conversation once `graceMs` have passed (0: none): a peer
  // that trickles bytes just often enough to beat the silence timeout is cut off.
  minRate = 0;
  graceMs = 30_000;
  readonly startedAt = Date.now();
  bytesIn = 0;
  bytesOut = 0;

  constructor(ch: ByteChannel, maxFrame: number, timeoutMs: number) {
    this.ch = ch;
    this.it = ch[Symbol.asyncIterator]();
    this.maxFrame = maxFrame;
    this.timeoutMs = timeoutMs;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    let timer: NodeJS.Timeout | undefined;
    // Silence, a frame dribbled in too slowly and the conversation's deadline all end it: a
    // peer that sends a byte now and then must not hold a slot for ever.
    const now = Date.now();
    const rateEnd = this.minRate > 0 ? this.startedAt + Math.max(this.graceMs, ((this.bytesIn + this.bytesOut) / this.minRate) * 1000) : Infinity;
    const limits: [number, string][] = [
      [now + this.timeoutMs, `no data from peer within ${this.timeoutMs} ms`],
      [this.frameDeadline, 'a frame was not finished in time (peer too slow)'],
      [this.deadline, 'the session took longer than its deadline'],
      [rateEnd, `the peer sends slower than ${this.minRate} bytes/s`],
    ];
    const [end, why] = limits.reduce((a, b) => (b[0] < a[0] ? b : a));
    const ms = Math.max(0, end - now);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(why)), ms);
    });
    try {
      const r = await Promise.race([this.it.next(), timeout]);
      if (r.done) {
        this.ended = true;
        return false;
      }
      const v = r.value instanceof Uint8Array ? r.value : r.value.subarray();
      if (v.length) {
        this.chunks.push(v);
        this.buffered += v.length;
        this.bytesIn += v.length;
      }
      return true;
    } catch (e) {
      if (e instanceof TimeoutError) this.ch.abort(e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private peek(n: number): Uint8Array {
    if (this.chunks.length === 0) return new Uint8Array(0);
    if (this.chunks[0].length >= n || this.chunks.length === 1) return this.chunks[0];
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }

  private take(n: number): Uint8Array {
    const first = this.peek(n);
    let out: Uint8Array;
    if (first.length >= n && this.chunks[0] === first) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }

  // Next frame, or null when the peer closed its side cleanly between frames.
  async read(): Promise<Uint8Array | null> {
    // length prefix: at most 5 bytes of LEB128
    for (;;) {
      const head = this.peek(5);
      let len = 0;
      let mul = 1;
      let used = 0;
      let complete = false;
      for (let i = 0; i < Math.min(head.length, 5); i++) {
        const b = head[i];
        len += (b & 0x7f) * mul;
        mul *= 0x80;
        used = i + 1;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete && used >= 5) throw new ProtocolError('bad frame length');
      if (complete) {
        if (len > this.maxFrame) {
          this.ch.abort(new ProtocolError('frame too large'));
          throw new ProtocolError(`frame of ${len} bytes exceeds ${this.maxFrame}`);
        }
        if (this.buffered < used + len) this.frameDeadline = Date.now() + Math.max(this.frameMinMs, (len / this.frameMinRate) * 1000);
        try {
          while (this.buffered < used + len) {
            if (!(await this.pull())) throw new ProtocolError('stream ended inside a frame');
          }
        } finally {
          this.frameDeadline = Infinity;
        }
        this.take(used);
        return new Uint8Array(this.take(len));
      }
      if (!(await this.pull())) {
        if (this.buffered === 0) return null;
        throw new ProtocolError('stream ended inside a frame header');
      }
    }
  }

  async write(frame: Uint8Array): Promise<void> {
    if (frame.length > this.maxFrame) throw new RangeError(`frame of ${frame.length} bytes exceeds ${this.maxFrame}`);
    const head: number[] = [];
    let v = frame.length;
    while (v >= 0x80) {
      head.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 0x80);
    }
    head.push(v);
    const out = new Uint8Array(head.length + frame.length);
    out.set(head);
    out.set(frame, head.length);
    this.bytesOut += out.length;
    if (!this.ch.send(out)) {
      const signal = AbortSignal.timeout(this.timeoutMs);
      await this.ch.onDrain({ signal });
    }
  }

  async close(): Promise<void> {
    try {
      await this.ch.close({ signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      this.ch.abort(e as Error);
    }
  }

  abort(e: Error): void {
    this.ch.abort(e);
  }
}
