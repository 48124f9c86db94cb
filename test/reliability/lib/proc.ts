// Real basefs processes for the reliability tests: the CLI as a user runs it, and nodes
// (`basefs run NAME -f`) that a test can SIGKILL. Every process started here is killed in
// t.after, by its own pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { controlAlive, callControl } from '../../../src/node/control.ts';
import { controlSocketPath } from '../../../src/node/datadir.ts';

export const BASEFS = fileURLToPath(new URL('../../../bin/basefs', import.meta.url));
type T = { after: (fn: () => Promise<void> | void) => void };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// The environment of a user with no BASEFS_* settings (tests pass --data-dir).
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.BASEFS_KEY;
  delete env.BASEFS_HOME;
  return env;
}

export function cli(home: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; timeout?: number } = {}): Run {
  const r = spawnSync(BASEFS, ['--data-dir', home, ...args], { input: opts.input, env: cleanEnv(opts.env), encoding: 'utf8', timeout: opts.timeout ?? 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function cliOk(home: string, args: string[], input?: string | Buffer): string {
  const r = cli(home, args, { input });
  if (r.code !== 0) throw new Error(`basefs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

// Async CLI run (several at once against a node).
export function cliAsync(home: string, args: string[], input?: Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(BASEFS, ['--data-dir', home, ...args], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.stdin.on('error', () => {});
    c.stdin.end(input ?? Buffer.alloc(0));
    c.once('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : -1), stdout, stderr }));
  });
}

export interface NodeProc {
  child: ChildProcess;
  pid: number;
  sock: string;
  output: () => string;
  kill: (sig?: NodeJS.Signals) => Promise<void>;
  exited: Promise<number | null>;
}

// Starts `basefs run NAME -f` and waits until its control socket answers.
export async function startNode(t: T | null, home: string, name: string, extra: string[] = [], wrap: string[] = []): Promise<NodeProc> {
  const argv = [BASEFS, '--data-dir', home, 'run', name, '-f', ...extra];
  const child = spawn(wrap.length ? wrap[0] : argv[0], wrap.length ? [...wrap.slice(1), ...argv] : argv.slice(1), { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  const kill = async (sig: NodeJS.Signals = 'SIGKILL') => {
    if (done) return;
    try { process.kill(child.pid!, sig); } catch { /* gone */ }
    await exited;
  };
  if (t) t.after(() => kill('SIGKILL'));
  const sock = controlSocketPath(home, name);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (done) throw new Error(`node exited early: ${out}`);
    if (existsSync(sock) && (await controlAlive(sock))) return { child, pid: child.pid!, sock, output: () => out, kill, exited };
    await new Promise((r) => setTimeout(r, 100));
  }
  await kill();
  throw new Error(`node did not start within 60 s: ${out}`);
}

export async function nodeAddrs(sock: string): Promise<string[]> {
  const r = (await callControl(sock, 'resources', [], 10_000)) as { node: { addrs: string[] } | null };
  return r.node?.addrs ?? [];
}

export function keyFile(home: string): string {
  return join(home, 'id_ed25519');
}
