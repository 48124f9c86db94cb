import cliProgress from 'cli-progress';

// Progress on stderr: a bar on a terminal, otherwise a plain line each time another tenth
// of the total is done (so a log shows it moving whatever the speed) and at the end. The
// rate shown is value / time since this Progress started; rate() gives the same number for
// the summary, so the two agree.
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private label: string;
  private fmt: (n: number) => string;
  private start = Date.now();
  private tenth = 0;
  private value = 0;
  private total = 0;
  private quiet: boolean;
  private ended: number | null = null;
  constructor(label: string, fmt: (n: number) => string, quiet: boolean) {
    this.label = label;
    this.fmt = fmt;
    this.quiet = quiet;
    if (!quiet && process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar({
        stream: process.stderr,
        format: `${label.padEnd(8)} [{bar}] {done}/{all} | {rate}/s | {extra}`,
        hideCursor: true,
        etaBuffer: 50,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(1, 0, { done: fmt(0), all: fmt(0), rate: fmt(0), extra: '' });
    }
  }

  update(value: number, total: number, extra = ''): void {
    this.value = value;
    this.total = Math.max(total, value);
    const rate = this.fmt(Math.round(this.rate()));
    if (this.bar) {
      this.bar.setTotal(Math.max(1, this.total));
      this.bar.update(value, { done: this.fmt(value), all: this.fmt(this.total), rate, extra });
      return;
    }
    const tenth = this.total > 0 ? Math.floor((value * 10) / this.total) : 0;
    if (!this.quiet && tenth > this.tenth && value < this.total) {
      this.tenth = tenth;
      process.stderr.write(`${this.label}: ${this.fmt(value)}/${this.fmt(this.total)} (${rate}/s) ${extra}\n`);
    }
  }

  rate(): number {
    const s = this.elapsed();
    return s > 0 ? this.value / s : 0;
  }

  elapsed(): number {
    return ((this.ended ?? Date.now()) - this.start) / 1000;
  }

  stop(): void {
    if (this.ended !== null) return;
    this.ended = Date.now();
    if (this.bar) {
      // last redraw with the final rate: the one the summary prints
      this.bar.update(this.value, { done: this.fmt(this.value), all: this.fmt(this.total), rate: this.fmt(Math.round(this.rate())) });
      this.bar.stop();
    }
    else if (!this.quiet && this.value > 0) process.stderr.write(`${this.label}: ${this.fmt(this.value)}/${this.fmt(this.total)} (${this.fmt(Math.round(this.rate()))}/s) done\n`);
  }
}
