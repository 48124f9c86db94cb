import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerLogCommands } from './log-commands.ts';
import { registerMountCommands } from './mount-commands.ts';
import { registerNetCommands } from './net-commands.ts';
import { registerFsckCommand } from './fsck-command.ts';
import { registerWatchCommands } from './watch-commands.ts';
import { registerHookCommands } from './hook-commands.ts';
import { UserError } from '../errors/errors.ts';
import { looksPrivate } from '../crypto/keys.ts';
import { esc, escLines } from './format.ts';

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
    .configureOutput({ writeErr: (str) => process.stderr.write(escLines(redact(str))) })
    .exitOverride();
  registerLogCommands(program);
  registerMountCommands(program);
  registerNetCommands(program);
  registerFsckCommand(program);
  registerWatchCommands(program);
  registerHookCommands(program);
  return program;
}

// No message may carry key material: PEM blocks are cut out of anything written to stderr.
export function redact(s: string): string {
  return s.replace(/-----BEGIN[^]*?(?:-----END[^-]*-----|$)/g, '[private key removed]').replace(/[^\n]*PRIVATE KEY[^\n]*/g, '[private key removed]');
}

export async function main(argv: string[]): Promise<number> {
  // A private key pasted as an argument is refused before the option parser can echo it back.
  const i = argv.slice(2).findIndex((a) => looksPrivate(a));
  if (i >= 0) {
    process.stderr.write(`basefs: argument ${i + 1} is a private key; basefs never takes private keys on the command line (use --key PATH for the key to act as; grant and revoke take the public key ed25519:... or its fingerprint)\n`);
    return 2;
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A command that printed its own report and found something wrong (fsck) sets exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof UserError) {
      process.stderr.write(`basefs: ${esc(redact(e.message))}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`basefs: ${esc(redact(err.message))}\n`);
    if (process.env.BASEFS_DEBUG) process.stderr.write(escLines(redact(String(err.stack))) + '\n');
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/src/cli/main.ts')) {
  // main() catches and reports every error itself and resolves to the exit code
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
