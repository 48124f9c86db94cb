import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fuseUnavailable, testFs, sh, q, ROOT } from './helpers.ts';
import { parseProve, toRanges, fromRanges } from './lib/prove.ts';

// pjdfstest, the POSIX filesystem conformance suite, on a real mount (issue 13): built from its
// source in this run (scripts/pjdfstest-build.sh), run by `prove` as root from inside a fresh
// `--local --allow-other` mount, one mount per directory. The failed subtests of every test file
// must be exactly the ones test/fuse/pjdfstest-expected.json lists, each list with the design
// limit that explains it (docs/FUSE.md, "pjdfstest"): a new failure is a regression, and a
// listed failure that passes now must be taken off the list (and the docs) too.
// BASEFS_PJDFSTEST_WRITE=FILE writes what this run saw in the same shape (to update the list;
// the reasons are written by hand). BASEFS_PJDFSTEST_DIRS=a,b runs only those directories.

interface Expected {
  limits?: Record<string, string>; // id -> the design limit (docs/FUSE.md)
  dirs: Record<string, { planned: number; files: Record<string, { failed: string; why: string }> }>;
}
const EXPECTED_FILE = join(ROOT, 'test/fuse/pjdfstest-expected.json');
const expected = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8')) as Expected;
const only = process.env.BASEFS_PJDFSTEST_DIRS?.split(',').filter(Boolean);
const dirs = Object.keys(expected.dirs).filter((d) => !only || only.includes(d));

const root = process.getuid?.() === 0;
const skip = fuseUnavailable() ?? (root ? null : 'pjdfstest runs as root (it switches uids)') ?? (sh('command -v prove').code !== 0 ? 'prove (perl) is not installed' : null);
if (skip) console.log(`# skipping pjdfstest: ${skip}`);

let built: string | null = null;
function build(): string {
  if (built) return built;
  const r = sh(`bash ${q(join(ROOT, 'scripts/pjdfstest-build.sh'))}`, { timeoutMs: 600_000 });
  assert.equal(r.code, 0, `pjdfstest build failed: ${r.stderr}`);
  built = r.stdout.trim().split('\n').pop()!;
  assert.ok(existsSync(join(built, 'pjdfstest')), 'no pjdfstest binary after the build');
  return built;
}

const seen: Expected = { limits: expected.limits, dirs: {} };
const why = (dir: string, file: string) => expected.dirs[dir]?.files[file]?.why ?? 'TODO';

test('every listed pjdfstest failure names documented design limits', () => {
  for (const [dir, d] of Object.entries(expected.dirs)) {
    for (const [file, f] of Object.entries(d.files)) {
      for (const id of f.why.split(',')) assert.ok(expected.limits?.[id], `${dir}/${file}: unknown limit "${id}"`);
      assert.ok(fromRanges(f.failed).length > 0, `${dir}/${file}: empty list`);
    }
  }
});

for (const dir of dirs) {
  test(`pjdfstest ${dir}: the failures are exactly the documented design limits`, { skip: skip ?? false, timeout: 1_800_000 }, (t) => {
    const b = build();
    const f = testFs(t, 'pjd');
    f.mount('--allow-other');
    const t0 = Date.now();
    const r = sh(`prove -v -r ${q(join(b, 'tests', dir))}`, { cwd: f.mnt, timeoutMs: 1_500_000 });
    const secs = ((Date.now() - t0) / 1000).toFixed(0);
    const got = parseProve(r.stdout);
    assert.ok(got.size > 0, `prove ran no test file: ${r.stderr}${r.stdout.slice(-2000)}`);
    let planned = 0;
    let failed = 0;
    const files: Record<string, { failed: string; why: string }> = {};
    const problems: string[] = [];
    const want = expected.dirs[dir].files;
    for (const [path, res] of got) {
      const file = path.slice(path.indexOf('/') + 1); // dir/NN.t -> NN.t
      planned += res.planned;
      failed += res.failed.length;
      if (res.failed.length) files[file] = { failed: toRanges(res.failed), why: why(dir, file) };
      const exp = new Set(fromRanges(want[file]?.failed ?? ''));
      const now = new Set(res.failed);
      const fresh = res.failed.filter((n) => !exp.has(n));
      const fixed = [...exp].filter((n) => !now.has(n));
      if (fresh.length) problems.push(`${file}: new failures (regressions): ${fresh.map((n) => res.lines.get(n)).join(' | ')}`);
      if (fixed.length) problems.push(`${file}: now passing, remove from ${EXPECTED_FILE} and docs/FUSE.md: ${toRanges(fixed)}`);
    }
    for (const file of Object.keys(want)) if (!got.has(`${dir}/${file}`)) problems.push(`${file}: expected but not run`);
    seen.dirs[dir] = { planned, files };
    console.log(`# pjdfstest ${dir}: ${planned} planned, ${failed} failed, ${secs} s`);
    assert.equal(planned, expected.dirs[dir].planned, `${dir}: planned subtests changed`);
    assert.deepEqual(problems, []);
  });
}

after(() => {
  const out = process.env.BASEFS_PJDFSTEST_WRITE;
  if (out) writeFileSync(out, JSON.stringify(seen, null, 2) + '\n');
});
