// Shared by the reliability tests: fuzz budgets (CI vs long mode) and the results file that
// scripts/reliability.ts turns into docs/RELIABILITY.md.
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const LONG = process.env.BASEFS_FUZZ_LONG === '1';
export const RESULTS_DIR = process.env.BASEFS_RELIABILITY_RESULTS ?? join(ROOT, '.cache', 'reliability');

// Number of fuzz cases / rounds: `ci` normally, `long` with BASEFS_FUZZ_LONG=1.
export function budget(ci: number, long: number): number {
  const f = Number(process.env.BASEFS_FUZZ_SCALE ?? '1');
  return Math.max(1, Math.round((LONG ? long : ci) * (Number.isFinite(f) && f > 0 ? f : 1)));
}

export type Section = 'fuzz' | 'forged' | 'crash' | 'partition' | 'control' | 'disk' | 'limits';

export interface Row {
  section: Section;
  what: string; // input tried or fault injected
  cases: number; // how many cases / rounds
  outcome: string; // what happened, in words
  ok: boolean;
  note?: string;
}

export interface LimitRow {
  limit: string;
  value: string;
  where: string; // file that enforces it, or "missing"
  verified: string; // how a test checked it
  present: boolean;
}

interface FileResults {
  file: string;
  long: boolean;
  at: string;
  rows: Row[];
  limits: LimitRow[];
}

// One results file per test file, rewritten on each record, so a rerun of one test file
// replaces only its own rows.
export class Recorder {
  private data: FileResults;
  private path: string;
  constructor(testFile: string) {
    const file = basename(fileURLToPath(testFile)).replace(/\.test\.ts$/, '');
    this.path = join(RESULTS_DIR, file + '.json');
    this.data = { file, long: LONG, at: new Date().toISOString(), rows: [], limits: [] };
    mkdirSync(RESULTS_DIR, { recursive: true });
    this.flush();
  }
  row(r: Row): void {
    this.data.rows.push(r);
    this.flush();
  }
  limit(l: LimitRow): void {
    this.data.limits.push(l);
    this.flush();
  }
  private flush(): void {
    writeFileSync(this.path, JSON.stringify(this.data, null, 2) + '\n');
  }
}

export function readAllResults(dir = RESULTS_DIR): FileResults[] {
  if (!existsSync(dir)) return [];
  const out: FileResults[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')));
    } catch { /* partial file from an interrupted run */ }
  }
  return out;
}

