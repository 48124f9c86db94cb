// Shared pieces of the Hyperdrive comparison (bench/peers.ts): the workload definition, the
// deterministic data both systems get, disk usage, a byte-counting TCP proxy and the tiny
// JSON-lines RPC used to drive the second node, which runs in its own process.
import { createCipheriv, createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';

export type SystemName = 'basefs' | 'hyperdrive';

// Sizes at scale 1 (the workloads of issue 7); BENCH_PEERS_SCALE multiplies every count/size.
export interface Workload {
  scale: number;
  smallFiles: number; // files of 1-4 KiB
  smallDirs: number; // spread over this many directories
  largeBytes: number; // one large file
  editOffset: number; // the byte changed in the large file (overwritten, not inserted)
  editOffset2: number; // second edit (Hyperdrive's dedup variant)
  insertOffset: number; // a byte inserted here (third edit)
  coldFiles: number; // files in the drive that is cold-opened
}

export function workload(scale: number): Workload {
  const largeBytes = Math.max(1 << 20, Math.round((256 * 2 ** 20 * scale) / 4096) * 4096);
  return {
    scale,
    smallFiles: Math.max(100, Math.round(10_000 * scale)),
    smallDirs: 100,
    largeBytes,
    editOffset: Math.floor(largeBytes * 0.37) + 11,
    editOffset2: Math.floor(largeBytes * 0.71) + 5,
    insertOffset: Math.floor(largeBytes * 0.53) + 3,
    coldFiles: Math.max(1000, Math.round(100_000 * scale)),
  };
}

// Deterministic pseudo-random bytes (AES-128-CTR keystream of a label): incompressible, the
// same on every run and for both systems, and fast enough for hundreds of MiB.
export function prandom(label: string, n: number): Buffer {
  const key = createHash('sha256').update('basefs-bench-peers/' + label).digest();
  const c = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
}

export interface SmallFile { path: string; data: Buffer }

// N files of 1024..4096 bytes in D directories (/small/dNN/fNNNNN), sizes from a fixed sequence.
export function smallFiles(n: number, dirs: number, label = 'small'): SmallFile[] {
  const sizes = prandom(label + '/sizes', n * 2);
  const blob = prandom(label + '/data', n * 4096);
  const out: SmallFile[] = [];
  let off = 0;
  for (let i = 0; i < n; i++) {
    const size = 1024 + (sizes.readUInt16LE(i * 2) % 3073);
    out.push({ path: `/${label}/d${String(i % dirs).padStart(3, '0')}/f${String(i).padStart(6, '0')}`, data: blob.subarray(off, off + size) });
    off += size;
  }
  return out;
}

export function dirsOf(files: SmallFile[]): string[] {
  const s = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) s.add('/' + parts.slice(0, i).join('/'));
  }
  return [...s].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

export function sha256hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

// Bytes a directory tree occupies on disk (allocated blocks, like du).
export function diskUsage(dir: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    total += st.blocks * 512;
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return total;
}

export function now(): number {
  return performance.now();
}

// A TCP proxy on 127.0.0.1 in front of TARGET that counts every byte in both directions. The
// second node of either system dials the proxy instead of the first node, so both systems'
// wire bytes are counted the same way (payload + protocol framing + encryption overhead).
export class CountingProxy {
  server: net.Server;
  port = 0;
  target: { host: string; port: number };
  toServer = 0; // bytes from the dialer (second node) to the first node
  toClient = 0; // bytes from the first node to the dialer
  connections = 0;
  private sockets = new Set<net.Socket>();

  constructor(target: { host: string; port: number }) {
    this.target = target;
    this.server = net.createServer((c) => this.onConn(c));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get total(): number {
    return this.toServer + this.toClient;
  }

  reset(): void {
    this.toServer = 0;
    this.toClient = 0;
  }

  private onConn(c: net.Socket): void {
    this.connections++;
    const s = net.connect(this.target.port, this.target.host);
    this.sockets.add(c);
    this.sockets.add(s);
    c.setNoDelay(true);
    s.setNoDelay(true);
    c.on('data', (d: Buffer) => {
      this.toServer += d.length;
      if (!s.write(d)) c.pause();
    });
    s.on('data', (d: Buffer) => {
      this.toClient += d.length;
      if (!c.write(d)) s.pause();
    });
    s.on('drain', () => c.resume());
    c.on('drain', () => s.resume());
    const end = () => {
      c.destroy();
      s.destroy();
      this.sockets.delete(c);
      this.sockets.delete(s);
    };
    c.on('close', end);
    s.on('close', end);
    c.on('error', end);
    s.on('error', end);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ---- JSON-lines RPC between a worker and the second node's process ----

export interface PeerRequest { op: string; [k: string]: unknown }

// Server side (in the peer process): one request per stdin line, one reply per stdout line.
export async function servePeer(handle: (req: PeerRequest) => Promise<unknown>): Promise<void> {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as PeerRequest;
    let reply: unknown;
    try {
      reply = { ok: true, result: await handle(req) };
    } catch (e) {
      reply = { ok: false, error: (e as Error).stack ?? String(e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
    if (req.op === 'close') break;
  }
}

// Client side (in the worker).
export class PeerClient {
  private child: ChildProcess;
  private lines: AsyncIterator<string>;
  private stderr = '';

  constructor(child: ChildProcess) {
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (this.stderr.length > 20000) this.stderr = this.stderr.slice(-10000);
    });
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  async call<T>(req: PeerRequest): Promise<T> {
    this.child.stdin!.write(JSON.stringify(req) + '\n');
    for (;;) {
      const r = await this.lines.next();
      if (r.done) throw new Error(`second node exited during ${req.op}: ${this.stderr.slice(-3000)}`);
      if (!r.value.startsWith('{')) continue; // stray output of a library
      const msg = JSON.parse(r.value);
      if (!msg.ok) throw new Error(`second node failed in ${req.op}: ${msg.error}`);
      return msg.result as T;
    }
  }

  async close(): Promise<void> {
    try {
      await this.call({ op: 'close' });
    } catch { /* already gone */ }
    await new Promise<void>((r) => {
      if (this.child.exitCode !== null) return r();
      const t = setTimeout(() => { this.child.kill('SIGKILL'); r(); }, 10000);
      this.child.once('exit', () => { clearTimeout(t); r(); });
    });
  }
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
