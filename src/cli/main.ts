import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerLogCommands } from './log-commands.ts';
import { registerMountCommands } from './mount-commands.ts';
import { registerNetCommands } from './net-commands.ts';
import { UserError } from '../node/errors.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('basefs')
    .description('peer-to-peer filesystem: a signed log of operations, key authority per subtree, FUSE view')
    .version(pkg.version, '-v, --version')
    .option('--data-dir <dir>', 'data directory (env BASEFS_HOME, default ~/.basefs)')
    .option('--key <path>', 'private key to act as, also through a running node (env BASEFS_KEY, default DATA_DIR/id_ed25519; a named key must exist)')
    .option('--json', 'print data as JSON')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerLogCommands(program);
  registerMountCommands(program);
  registerNetCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof UserError) {
      process.stderr.write(`basefs: ${e.message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`basefs: ${err.message}\n`);
    if (process.env.BASEFS_DEBUG) process.stderr.write(String(err.stack) + '\n');
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/src/cli/main.ts')) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
