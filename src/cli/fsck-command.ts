import type { Command } from 'commander';
import { fsck } from '../node/fsck.ts';
import { checkName, requireFs } from '../node/datadir.ts';
import { esc } from './format.ts';
import { globals, home } from './context.ts';

export function registerFsckCommand(program: Command): void {
  program
    .command('fsck <name>')
    .description('check a stopped filesystem: every stored entry (id and signature) and the stored view against a replay of the log; rebuilds a stored view that differs; exit 1 if anything was wrong')
    .option('--no-repair', 'report only; do not rebuild the stored view')
    .addHelpText('after', `
What it checks:
  - every stored entry still hashes to its id and its signature verifies (a damaged entry is
    named by id and position; the log is not changed: fetch it again with basefs get)
  - the stored view (what ls/cat read without replaying, and what open trusts) record by
    record against the view a full replay of the log gives; a difference is repaired by
    rebuilding the stored view from the log
Stop the node first (basefs unmount NAME): fsck needs the log to itself.
Exit status: 0 all good, 1 something was wrong (even if repaired).`)
    .action(async (name: string, o: { repair: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const h = home(g);
      checkName(name);
      requireFs(h, name);
      const r = await fsck(h, name, { repair: o.repair, progress: g.json ? undefined : (m) => process.stderr.write(`fsck: ${m}\n`) });
      if (g.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        const lines: string[] = [];
        if (r.logDamage) lines.push(`log: DAMAGED: ${esc(r.logDamage)}`);
        else lines.push(`log: ${r.entries} entries, ids verified, ${r.badSignatures.length ? `${r.badSignatures.length} BAD SIGNATURES` : 'every signature verified'}`);
        for (const b of r.badSignatures.slice(0, 50)) lines.push(`  bad signature: entry ${b.id} at position ${b.position}`);
        if (!r.logDamage) {
          if (r.view.problems.length === 0) lines.push(`stored view: ${r.view.paths} paths, equal to a replay of the log`);
          else {
            lines.push(`stored view: ${r.view.problems.length} problem(s):`);
            for (const p of r.view.problems) lines.push(`  ${esc(p)}`);
            lines.push(r.view.repaired ? 'stored view: REPAIRED (rebuilt from the log)' : o.repair ? 'stored view: rebuild did not help' : 'stored view: not repaired (--no-repair); run basefs fsck without it to rebuild');
          }
        }
        lines.push(r.ok ? 'fsck: ok' : 'fsck: problems found');
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (!r.ok) process.exitCode = 1;
    });
}
