// A multiset hash: the sum of 256-bit item hashes mod 2^256 (big-endian), kept in eight 32-bit
// limbs so items can be added and removed in O(1). Equal sets give equal sums whatever the order
// of additions and removals.
export class Sum256 {
  private limbs = new Array<number>(8).fill(0);

  private step(h: Uint8Array, sign: 1 | -1): void {
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const w = ((h[i * 4] << 24) | (h[i * 4 + 1] << 16) | (h[i * 4 + 2] << 8) | h[i * 4 + 3]) >>> 0;
      let v = this.limbs[i] + sign * w + carry;
      carry = 0;
      if (v >= 0x100000000) {
        v -= 0x100000000;
        carry = 1;
      } else if (v < 0) {
        v += 0x100000000;
        carry = -1;
      }
      this.limbs[i] = v;
    }
  }

  add(h: Uint8Array): void {
    this.step(h, 1);
  }

  sub(h: Uint8Array): void {
    this.step(h, -1);
  }

  hex(): string {
    return this.limbs.map((l) => l.toString(16).padStart(8, '0')).join('');
  }
}
