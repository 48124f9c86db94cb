import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Real multi-host clusters on Linux network namespaces: one namespace per node, each with a
// veth link to a bridge that lives in its own namespace (nothing is added to the host's
// network). Node i has address SUBNET.i/24 and a multicast route, so mDNS works across the
// bridge. Everything is named with a per-process prefix and removed by cleanup(), which
// also removes leftovers of earlier runs whose process is gone.

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'basefs');
const PREFIX = 'bfst';

function ip(args: string[], check = true): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  const ok = r.status === 0;
  if (!ok && check) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return { ok, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

// Why namespace tests cannot run here, or null when they can.
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need CAP_NET_ADMIN)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `ip netns is unavailable: ${r.error?.message ?? r.stderr}`;
  const probe = `${PREFIX}probe${process.pid}`;
  const a = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (a.status !== 0) return `cannot create a network namespace: ${a.stderr}`;
  try {
    const v = spawnSync('ip', ['-n', probe, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb'], { encoding: 'utf8' });
    if (v.status !== 0) return `cannot create veth links: ${v.stderr}`;
    const b = spawnSync('ip', ['-n', probe, 'link', 'add', 'pbr', 'type', 'bridge'], { encoding: 'utf8' });
    if (b.status !== 0) return `cannot create a bridge: ${b.stderr}`;
  } finally {
    spawnSync('ip', ['netns', 'del', probe]);
  }
  return null;
}

// Deletes namespaces of earlier runs whose owning process no longer exists.
export function removeLeftovers(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.split(' ')[0];
    const m = new RegExp(`^${PREFIX}(\\d+)`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch { /* gone */ }
    if (!alive || pid === process.pid) {
      spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean).forEach((p) => {
        try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
      });
      spawnSync('ip', ['netns', 'del', name]);
    }
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Cluster {
  readonly tag: string;
  readonly subnet: string;
  readonly base: string; // temp dir holding data dirs and logs
  readonly name: string; // filesystem name used by the tests
  private nss: string[] = [];
  private procs = new Map<number, ChildProcess>();
  private brNs: string;

  constructor(fsName: string, subnetOctet?: number) {
    this.tag = `${PREFIX}${process.pid}`;
    this.subnet = `10.231.${subnetOctet ?? 20 + (process.pid % 200)}`;
    this.base = mkdtempSync(join(tmpdir(), 'basefs-nettest-'));
    this.name = fsName;
    this.brNs = `${this.tag}br`;
  }

  ns(i: number): string {
    return `${this.tag}n${i}`;
  }

  addr(i: number): string {
    return `${this.subnet}.${i}`;
  }

  home(i: number): string {
    return join(this.base, `node${i}`);
  }

  setupBridge(): void {
    removeLeftovers();
    ip(['netns', 'add', this.brNs]);
    this.nss.push(this.brNs);
    ip(['-n', this.brNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.brNs, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0'], false);
    ip(['-n', this.brNs, 'link', 'set', 'br0', 'up']);
  }

  addNode(i: number): void {
    const ns = this.ns(i);
    ip(['netns', 'add', ns]);
    this.nss.push(ns);
    ip(['-n', this.brNs, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['-n', this.brNs, 'link', 'set', `v${i}`, 'master', 'br0']);
    ip(['-n', this.brNs, 'link', 'set', `v${i}`, 'up']);
    ip(['-n', ns, 'addr', 'add', `${this.addr(i)}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
    mkdirSync(this.home(i), { recursive: true, mode: 0o700 });
  }

  // Cuts node i off the bridge (its side stays up, so it does not notice at once).
  linkDown(i: number): void {
    ip(['-n', this.brNs, 'link', 'set', `v${i}`, 'down']);
  }

  linkUp(i: number): void {
    ip(['-n', this.brNs, 'link', 'set', `v${i}`, 'up']);
  }

  // Runs the CLI for node i inside its namespace and waits for it (bounded).
  cli(i: number, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {}): RunResult {
    const r = spawnSync('ip', ['netns', 'exec', this.ns(i), BIN, '--data-dir', this.home(i), ...args], {
      input: opts.input,
      timeout: opts.timeoutMs ?? 120_000,
      encoding: 'utf8',
      env: { ...process.env, ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  }

  // Same, asynchronously (for concurrent commands).
  cliAsync(i: number, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((res) => {
      const p = spawn('ip', ['netns', 'exec', this.ns(i), BIN, '--data-dir', this.home(i), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      p.on('close', (code) => {
        clearTimeout(t);
        res({ code: code ?? -1, stdout, stderr });
      });
      p.stdin.end(opts.input ?? '');
    });
  }

  mustCli(i: number, args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): string {
    const r = this.cli(i, args, opts);
    if (r.code !== 0) throw new Error(`node${i}: basefs ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  // Starts `basefs run NAME -f` (or any long-running argv) for node i in its namespace.
  start(i: number, args: string[] = ['run', this.name, '-f'], env: Record<string, string> = {}): ChildProcess {
    const logPath = join(this.base, `node${i}.out`);
    const fd = openSync(logPath, 'a');
    const p = spawn('ip', ['netns', 'exec', this.ns(i), BIN, '--data-dir', this.home(i), ...args], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    this.procs.set(i, p);
    return p;
  }

  // Starts a node script (TypeScript) inside node i's namespace.
  startScript(i: number, script: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const logPath = join(this.base, `node${i}.out`);
    const fd = openSync(logPath, 'a');
    const node = process.execPath;
    const p = spawn('ip', ['netns', 'exec', this.ns(i), node, '--no-warnings', script, ...args], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    this.procs.set(i, p);
    return p;
  }

  output(i: number): string {
    const p = join(this.base, `node${i}.out`);
    return existsSync(p) ? readFileSync(p, 'utf8') : '';
  }

  async stop(i: number, timeoutMs = 15_000): Promise<void> {
    const p = this.procs.get(i);
    if (!p) return;
    this.procs.delete(i);
    if (p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }

  async cleanup(keepDirs = false): Promise<void> {
    await Promise.all([...this.procs.keys()].map((i) => this.stop(i, 5000)));
    for (const ns of this.nss.reverse()) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const p of pids.split('\n').filter(Boolean)) {
        try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
    this.nss = [];
    if (!keepDirs) rmSync(this.base, { recursive: true, force: true });
  }
}

// Polls fn until it returns a truthy value or the time is up; returns the last value.
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  let lastErr: unknown = null;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
