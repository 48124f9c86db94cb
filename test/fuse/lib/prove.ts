// Reading `prove -v` output of pjdfstest: per test file, the subtests planned and the ones that
// failed (a `not ok` without a TODO/SKIP directive, or planned and never reported, as when a
// script dies). Lists of numbers are written as ranges ("1-4,9") in the expectations file.

export interface FileResult {
  planned: number;
  failed: number[];
  lines: Map<number, string>; // the `not ok` line of each failure, for messages
}

const HEADER = /^(\S+\/)?([^/\s]+\/[^/\s]+\.t) \.\.\s?(.*)$/;

export function parseProve(out: string): Map<string, FileResult> {
  const files = new Map<string, FileResult>();
  let cur: { r: FileResult; seen: Set<number> } | null = null;
  const finish = () => {
    if (!cur) return;
    for (let i = 1; i <= cur.r.planned; i++) if (!cur.seen.has(i)) {
      cur.r.failed.push(i);
      cur.r.lines.set(i, `not ok ${i} - never reported (the script stopped)`);
    }
    cur.r.failed.sort((a, b) => a - b);
  };
  for (const raw of out.split('\n')) {
    const h = HEADER.exec(raw);
    let line = raw;
    if (h) {
      finish();
      const r: FileResult = { planned: 0, failed: [], lines: new Map() };
      files.set(h[2], r);
      cur = { r, seen: new Set() };
      line = h[3];
    }
    if (!cur) continue;
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) {
      cur.r.planned = Number(plan[1]);
      continue;
    }
    const m = /^(not )?ok (\d+)\b(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    cur.seen.add(n);
    if (m[1] && !/#\s*(TODO|SKIP)/i.test(m[3])) {
      cur.r.failed.push(n);
      cur.r.lines.set(n, line);
    }
  }
  finish();
  return files;
}

export function toRanges(ns: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length; i++) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j] + 1) j++;
    out.push(j === i ? String(ns[i]) : `${ns[i]}-${ns[j]}`);
    i = j;
  }
  return out.join(',');
}

export function fromRanges(s: string): number[] {
  if (!s) return [];
  return s.split(',').flatMap((p) => {
    const [a, b] = p.split('-').map(Number);
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, k) => a + k);
  });
}
