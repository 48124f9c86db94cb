import type { ByteChannel } from '../src/network/frame.ts';

// Two connected in-memory ByteChannels (a duplex pipe) for protocol tests without libp2p.
class End implements ByteChannel {
  peer!: End;
  private q: Uint8Array[] = [];
  private waiters: ((v: IteratorResult<Uint8Array>) => void)[] = [];
  private ended = false;
  aborted: Error | null = null;
  sent = 0;
  push(b: Uint8Array | null): void {
    const w = this.waiters.shift();
    if (b === null) {
      this.ended = true;
      if (w) w({ done: true, value: undefined });
      for (const x of this.waiters.splice(0)) x({ done: true, value: undefined });
      return;
    }
    if (w) w({ done: false, value: b });
    else this.q.push(b);
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.aborted) return Promise.reject(this.aborted);
        const b = this.q.shift();
        if (b) return Promise.resolve({ done: false, value: b });
        if (this.ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((r) => this.waiters.push(r));
      },
    };
  }
  send(data: Uint8Array): boolean {
    this.sent += data.length;
    // deliver in small pieces sometimes, to exercise reassembly
    const copy = new Uint8Array(data);
    if (copy.length > 7 && copy.length % 3 === 0) {
      const cut = Math.floor(copy.length / 2);
      this.peer.push(copy.subarray(0, cut));
      this.peer.push(copy.subarray(cut));
    } else this.peer.push(copy);
    return true;
  }
  async onDrain(): Promise<void> {}
  async close(): Promise<void> {
    this.peer.push(null);
  }
  abort(err: Error): void {
    this.aborted = err;
    this.push(null);
    this.peer.push(null);
  }
}

export function channelPair(): [End, End] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
