// Per-peer token buckets: `rate` requests per second, bursts up to `burst`. Old buckets are
// dropped so the map stays bounded by the number of recently active peers.
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();
  readonly rate: number;
  readonly burst: number;
  limited = 0;
  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
  }
  take(key: string, now = Date.now(), cost = 1): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 10_000) this.prune(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    if (b.tokens < cost) {
      this.limited++;
      return false;
    }
    b.tokens -= cost;
    return true;
  }
  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
  }
}
