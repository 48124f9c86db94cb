import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Real mounts, driven as a user would: the filesystem runs in its own process (basefs mount,
// daemonized), and this test process touches the mount only through child processes with
// timeouts, so a bug in the FUSE server can fail a test but never hang the test runner.

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'basefs');
export const NODE = process.execPath;
// the system python (a pyenv shim can take a second and a half to start)
export const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// Why real-mount tests cannot run here, or null when they can.
export function fuseUnavailable(): string | null {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is absent';
  if (spawnSync('fusermount', ['-V']).error) return 'fusermount is not installed';
  return null;
}

export interface Sh {
  code: number;
  stdout: string;
  stderr: string;
}

// bash -c CMD with a timeout (the child is killed, never the test process).
export function sh(cmd: string, o: { cwd?: string; input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {}): Sh {
  const env: Record<string, string | undefined> = { ...process.env, ...o.env };
  delete env.BASEFS_KEY; // tests pick keys with --key
  delete env.BASEFS_HOME;
  const r = spawnSync('bash', ['-c', cmd], { cwd: o.cwd, input: o.input, env, encoding: 'utf8', timeout: o.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { code: -1, stdout: r.stdout ?? '', stderr: `timed out: ${cmd}` };
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function must(cmd: string, o: Parameters<typeof sh>[1] = {}): string {
  const r = sh(cmd, o);
  if (r.code !== 0) throw new Error(`command failed (${r.code}): ${cmd}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function mountedAt(dir: string): boolean {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === dir);
}

export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface TestFs {
  base: string; // temp dir with everything
  home: string; // BASEFS_HOME
  name: string;
  mnt: string;
  cli(args: string, o?: Parameters<typeof sh>[1]): Sh; // bin/basefs --data-dir HOME ARGS
  ok(args: string, o?: Parameters<typeof sh>[1]): string;
  mount(extra?: string): void;
  unmount(): void;
}

type T = { after: (fn: () => void | Promise<void>) => void };

// A fresh data dir with a key and a bootstrapped filesystem; cleanup always unmounts (the
// CLI, then fusermount -uz) and removes the temp dir, also when the test failed.
export function testFs(t: T, name = 'tfs'): TestFs {
  const base = mkdtempSync(join(tmpdir(), 'basefs-fuse-'));
  const home = join(base, 'home');
  const mnt = join(base, 'mnt');
  mkdirSync(mnt);
  const cli = (args: string, o: Parameters<typeof sh>[1] = {}) => sh(`${q(BIN)} --data-dir ${q(home)} ${args}`, o);
  const ok = (args: string, o: Parameters<typeof sh>[1] = {}) => {
    const r = cli(args, o);
    if (r.code !== 0) throw new Error(`basefs ${args} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const fsx: TestFs = {
    base, home, name, mnt, cli, ok,
    mount(extra = '') {
      ok(`mount ${name} ${q(mnt)} --local ${extra}`, { timeoutMs: 90_000 });
      if (!mountedAt(mnt)) throw new Error('mount returned but nothing is mounted');
    },
    unmount() {
      if (!mountedAt(mnt)) return;
      ok(`unmount ${name}`, { timeoutMs: 90_000 });
    },
  };
  t.after(() => {
    const c0 = Date.now();
    const u = cli(`unmount ${name} --force --timeout 20`, { timeoutMs: 60_000 });
    if (process.env.FUSE_TEST_TIMING) console.log(`# cleanup unmount ${Date.now() - c0} ms: ${u.stdout}${u.stderr}`);
    if (mountedAt(mnt)) sh(`fusermount -uz ${q(mnt)} || umount -l ${q(mnt)}`, { timeoutMs: 20_000 });
    if (mountedAt(mnt)) process.stderr.write(`warning: ${mnt} is still mounted; leaving ${base}\n`);
    else rmSync(base, { recursive: true, force: true });
  });
  ok('genkey');
  ok(`bootstrap ${name}`);
  return fsx;
}
