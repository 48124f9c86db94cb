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

export interface GossipBudgetLimits {
  msgsPerSec: number;
  burstMsgs: number;
  bytesPerSec: number;
  burstBytes: number;
}

// Per-peer budget for gossip messages: one bucket of messages (each costs a signature check
// and a log append) and one of bytes. A message passes only when both have room; one that
// does not takes nothing, so a peer over its budget gets through again as soon as it slows.
export class GossipBudget {
  private buckets = new Map<string, { msgs: number; bytes: number; at: number }>();
  readonly limits: GossipBudgetLimits;
  constructor(limits: GossipBudgetLimits) {
    this.limits = limits;
  }
  take(key: string, bytes: number, now = Date.now()): boolean {
    const l = this.limits;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 10_000) this.prune(now);
      b = { msgs: l.burstMsgs, bytes: l.burstBytes, at: now };
      this.buckets.set(key, b);
    }
    const s = Math.max(0, now - b.at) / 1000;
    b.msgs = Math.min(l.burstMsgs, b.msgs + s * l.msgsPerSec);
    b.bytes = Math.min(l.burstBytes, b.bytes + s * l.bytesPerSec);
    b.at = now;
    if (b.msgs < 1 || b.bytes < bytes) return false;
    b.msgs -= 1;
    b.bytes -= bytes;
    return true;
  }
  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
  }
}
