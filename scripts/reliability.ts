// Runs the reliability suite (test/reliability) and writes docs/RELIABILITY.md from the
// results the tests record (one JSON file per test file in .cache/reliability/).
//   node scripts/reliability.ts            run the suite (CI budget), then write the doc
//   node scripts/reliability.ts --long     same with BASEFS_FUZZ_LONG=1 (more cases/rounds)
//   node scripts/reliability.ts --no-run   only rewrite the doc from the last results
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem, release } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS = process.env.BASEFS_RELIABILITY_RESULTS ?? join(ROOT, '.cache', 'reliability');
const DOC = join(ROOT, 'docs', 'RELIABILITY.md');
const args = process.argv.slice(2);
const long = args.includes('--long') || process.env.BASEFS_FUZZ_LONG === '1';

interface Row { section: string; what: string; cases: number; outcome: string; ok: boolean; note?: string }
interface LimitRow { limit: string; value: string; where: string; verified: string; present: boolean }
interface FileResults { file: string; long: boolean; at: string; rows: Row[]; limits: LimitRow[] }

let suite = 'not run by this invocation (--no-run): rows are from the last run of each test file';
if (!args.includes('--no-run')) {
  rmSync(RESULTS, { recursive: true, force: true });
  const t0 = Date.now();
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'test.sh'), 'test/reliability'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, BASEFS_RELIABILITY_RESULTS: RESULTS, ...(long ? { BASEFS_FUZZ_LONG: '1' } : {}) },
  });
  process.stdout.write(r.stdout ?? '');
  const num = (k: string) => new RegExp(`ℹ ${k} (\\d+)`).exec(r.stdout ?? '')?.[1] ?? '?';
  suite = `\`bash scripts/test.sh test/reliability\`${long ? ' with BASEFS_FUZZ_LONG=1' : ''}: ${num('pass')} passed, ${num('fail')} failed, ${num('skipped')} skipped in ${Math.round((Date.now() - t0) / 1000)} s (exit ${r.status})`;
  if (r.status !== 0) process.exitCode = 1;
}

const files: FileResults[] = [];
if (existsSync(RESULTS)) {
  for (const f of readdirSync(RESULTS).sort()) {
    if (!f.endsWith('.json')) continue;
    try {
      files.push(JSON.parse(readFileSync(join(RESULTS, f), 'utf8')));
    } catch { /* interrupted */ }
  }
}
// Rows in the order of the suite's story, not of file names.
const ORDER = ['fuzz-entry', 'fuzz-network', 'fuzz-content', 'forged', 'crash', 'partition', 'control', 'disk'];
files.sort((a, b) => (ORDER.indexOf(a.file) + 1 || 99) - (ORDER.indexOf(b.file) + 1 || 99));
const rows = files.flatMap((f) => f.rows.map((r) => ({ ...r, file: f.file })));
const limits = files.flatMap((f) => f.limits);

const SECTIONS: [string, string, string][] = [
  ['fuzz', 'Fuzzing: malformed input never crashes a node and is never accepted', 'Property tests (fast-check, shrinking, seeds printed on failure) and byte mutation of valid messages. Every decoder may only throw its own error class; anything that decodes must be canonical and, if it carries a signature, fail verification unless its author signed it.'],
  ['forged', 'Forged and hostile entries through `Filesystem.ingest`', 'Each case is fed to a real filesystem (log store, view, chunk store in a temporary directory) as a peer would deliver it; outcomes are read from the ingest report, `Filesystem.counters` and the view.'],
  ['crash', 'Crash safety: SIGKILL during heavy writes', 'A writer is killed with SIGKILL at a random moment, again and again; after each kill the log is reopened, every entry verified, and every write the writer had acknowledged must be present with readable content.'],
  ['partition', 'Partitions: five nodes in network namespaces', 'Five `basefs run` nodes, each in its own network namespace on one bridge (test/network\'s Cluster); random groups are cut apart (blackhole routes between their addresses, both ways) and healed, again and again, while every node writes.'],
  ['control', 'Control plane and key material', 'The control socket is the only command channel and only its owner may open it; private keys never leave their file.'],
  ['disk', 'Disk full and read-only data directories', 'The data directory is a small tmpfs (or a read-only remount of one); the CLI must fail with one clear line and the log must reopen intact afterwards.'],
];

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const out: string[] = [];
out.push('# Reliability');
out.push('');
out.push('What hostile input, crashes, partitions and full disks do to basefs, as measured by the');
out.push('reliability suite (`test/reliability`). This file is generated: `node scripts/reliability.ts`');
out.push('runs the suite and rewrites it (`--long` for the long budget, `--no-run` to only rewrite it');
out.push('from the last results). Do not edit it by hand.');
out.push('');
out.push(`- Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.versions.node}`);
out.push(`- Generated: ${new Date().toISOString()}`);
out.push(`- Budget: ${long ? 'long (BASEFS_FUZZ_LONG=1)' : 'CI (default; BASEFS_FUZZ_LONG=1 multiplies cases and rounds)'}`);
out.push(`- Suite: ${suite}`);
out.push('');
const bad = rows.filter((r) => !r.ok);
const missing = limits.filter((l) => !l.present);
out.push(`**${rows.length} checks recorded, ${bad.length} with an unexpected outcome; ${limits.length} limits checked, ${missing.length} missing.** The bugs found on the way, fixed and open, are listed at the end.`);
out.push('');
if (bad.length || missing.length) {
  out.push('Unexpected outcomes and missing limits (details in the tables and under "Bugs the suite found"):');
  out.push('');
  for (const r of bad) out.push(`- ${r.section}: ${r.what.split(':')[0]}`);
  for (const l of missing) out.push(`- missing limit: ${l.limit}`);
  out.push('');
}
for (const [key, title, intro] of SECTIONS) {
  const rs = rows.filter((r) => r.section === key);
  out.push(`## ${title}`);
  out.push('');
  out.push(intro);
  out.push('');
  if (rs.length === 0) {
    out.push('_No results recorded in this run (see "Not covered" below)._');
    out.push('');
    continue;
  }
  out.push('| input tried / fault injected | cases | outcome | as expected |');
  out.push('|---|---:|---|:---:|');
  for (const r of rs) out.push(`| ${esc(r.what)} | ${r.cases.toLocaleString('en-US')} | ${esc(r.outcome)}${r.note ? ` (${esc(r.note)})` : ''} | ${r.ok ? 'yes' : '**NO**'} |`);
  out.push('');
}
out.push('## Limits that bound memory and work for any input');
out.push('');
out.push('Each limit is checked by a test that sends input just past it; "missing" means the suite');
out.push('looked for the limit and found none.');
out.push('');
if (limits.length) {
  out.push('| limit | value | enforced in | verified by | present |');
  out.push('|---|---|---|---|:---:|');
  for (const l of limits) out.push(`| ${esc(l.limit)} | ${esc(l.value)} | ${esc(l.where)} | ${esc(l.verified)} | ${l.present ? 'yes' : '**missing**'} |`);
} else out.push('_No limit results recorded in this run._');
out.push('');
const notes = join(ROOT, 'test', 'reliability', 'FINDINGS.md');
if (existsSync(notes)) {
  out.push(readFileSync(notes, 'utf8').trim());
  out.push('');
}
writeFileSync(DOC, out.join('\n'));
console.log(`wrote ${DOC}: ${rows.length} rows, ${limits.length} limits, ${bad.length} unexpected`);
