import { writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { execSync } from 'node:child_process';

// Runs every benchmark section and writes BENCHMARKS.md with the machine and date.
// `npm run bench` runs all but the Hyperdrive comparison; `npm run bench -- --peers` adds it;
// `npm run bench -- log view` runs only the named sections.
const SECTIONS: [string, string, string][] = [
  ['log', './log.ts', 'runLogBench'],
  ['view', './view.ts', 'runViewBench'],
  ['content', './content.ts', 'runContentBench'],
  ['network', './network.ts', 'runNetworkBench'],
  ['fuse', './fuse.ts', 'runFuseBench'],
  ['peers', './peers.ts', 'runPeersBench'],
];

const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith('-'));
const wanted = named.length ? named : SECTIONS.map((s) => s[0]).filter((n) => n !== 'peers' || args.includes('--peers'));

function machine(): string {
  let disk = '';
  try {
    disk = execSync('df -h --output=fstype,size,avail . | tail -1', { encoding: 'utf8' }).trim();
  } catch { /* unknown */ }
  return `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.versions.node}, disk ${disk}`;
}

const parts: string[] = [
  '# Benchmarks',
  '',
  `Machine: ${machine()}`,
  `Date: ${new Date().toISOString()}`,
  `Command: \`npm run bench${args.length ? ' -- ' + args.join(' ') : ''}\``,
  '',
  'Numbers are from one run on a shared 2-core machine; expect noise of +-20%.',
  '',
];
for (const [name, mod, fn] of SECTIONS) {
  if (!wanted.includes(name)) continue;
  process.stderr.write(`bench: ${name}...\n`);
  const t = performance.now();
  try {
    const m = await import(mod);
    parts.push(await m[fn]());
  } catch (e) {
    parts.push(`## ${name}\n\nFAILED: ${(e as Error).stack ?? e}\n`);
  }
  process.stderr.write(`bench: ${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
}
const outFile = process.env.BENCH_OUT ?? new URL('../BENCHMARKS.md', import.meta.url).pathname;
writeFileSync(outFile, parts.join('\n'));
process.stderr.write(`bench: wrote ${outFile}\n`);
