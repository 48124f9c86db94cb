// A bounded byte queue read as an async iterable: write() handlers push copies of what the
// kernel sent, ChunkStore.writeStream consumes them (chunking and hashing as the data arrives).
// push() waits while more than `limit` bytes are queued, so a slow store slows the writer down
// instead of growing memory.
export class PushStream implements AsyncIterable<Uint8Array> {
  private q: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;
  private room: (() => void)[] = [];
  private limit: number;
  pushed = 0;

  constructor(limit = 16 * 1024 * 1024) {
    this.limit = limit;
  }

  async push(b: Uint8Array): Promise<void> {
    while (this.queued >= this.limit && !this.failed) await new Promise<void>((r) => this.room.push(r));
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error('push after end');
    this.q.push(b);
    this.queued += b.length;
    this.pushed += b.length;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  // The consumer failed: release waiting producers with the error.
  fail(e: Error): void {
    this.failed = e;
    for (const r of this.room.splice(0)) r();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const b = this.q.shift();
      if (b) {
        this.queued -= b.length;
        if (this.queued < this.limit) for (const r of this.room.splice(0)) r();
        yield b;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
