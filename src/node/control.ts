import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, mkdirSync, unlinkSync, chmodSync as chmod } from 'node:fs';
import { dirname } from 'node:path';
import { API_METHODS, type FsApi } from './api.ts';
import { UserError } from '../errors/errors.ts';
import { keyPairFromPrivate, privateKeyFromPem } from '../crypto/keys.ts';

// The local control plane: a Unix socket in a 0700 directory, itself 0600, so only the
// owner (and root) can connect. No network-reachable command port exists. Protocol: one JSON
// object per line, {id, method, params, key?} -> {id, result} | {id, error: {message, code}}.
// `key` (a PEM private key) makes that one request act as that key instead of the node's: the
// CLI sends it when given --key / BASEFS_KEY. It is used for the request and never kept,
// logged or echoed; it travels no further than this owner-only socket.
const MAX_REQUEST = 64 * 1024 * 1024;

// A streaming method (watch): given the connection after its one request line, it writes
// {id, ...} lines for as long as it likes and ends the connection itself.
export type StreamHandler = (params: unknown[], sock: Socket, id: unknown) => void;
export type StreamHandlers = Record<string, StreamHandler>;

export async function startControlServer(path: string, api: FsApi, streams: StreamHandlers = {}): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmod(dirname(path), 0o700);
  if (existsSync(path)) {
    if (await probe(path)) throw new UserError(`a node is already running for this filesystem (control socket ${path} answers)`, 'EBUSY');
    unlinkSync(path); // stale socket from a crashed node
  }
  const server = createServer((sock) => serve(sock, api, streams));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const old = process.umask(0o177);
    server.listen(path, () => {
      process.umask(old);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

function serve(sock: Socket, api: FsApi, streams: StreamHandlers): void {
  // Pieces of the current line: only a new piece can hold its end, and nothing is joined or
  // scanned twice, so a long request costs linear time.
  let parts: string[] = [];
  let size = 0;
  sock.setEncoding('utf8');
  sock.on('error', () => {});
  const onData = (d: string) => {
    let rest = d;
    let i;
    while ((i = rest.indexOf('\n')) >= 0) {
      parts.push(rest.slice(0, i));
      const line = parts.join('');
      parts = [];
      size = 0;
      rest = rest.slice(i + 1);
      const st = streamRequest(line, streams);
      if (st) {
        sock.off('data', onData); // the connection is the stream's now
        st.fn(st.params, sock, st.id);
        return;
      }
      void handle(line, api).then((r) => {
        if (!sock.destroyed) sock.write(JSON.stringify(r) + '\n');
      });
    }
    parts.push(rest);
    size += rest.length;
    if (size > MAX_REQUEST) {
      sock.off('data', onData);
      parts = [];
      sock.end(JSON.stringify({ id: null, error: { message: 'request too large', code: 'E2BIG' } }) + '\n');
    }
  };
  sock.on('data', onData);
}

function streamRequest(line: string, streams: StreamHandlers): { fn: StreamHandler; params: unknown[]; id: unknown } | null {
  if (!line.includes('"method"')) return null;
  try {
    const r = JSON.parse(line);
    const fn = typeof r?.method === 'string' && Object.hasOwn(streams, r.method) ? streams[r.method] : undefined;
    return fn && Array.isArray(r.params) ? { fn, params: r.params, id: r.id } : null;
  } catch {
    return null;
  }
}

async function handle(line: string, api: FsApi): Promise<unknown> {
  let req: { id?: unknown; method?: unknown; params?: unknown };
  try {
    req = JSON.parse(line);
  } catch {
    return { id: null, error: { message: 'bad request: not JSON', code: 'EPROTO' } };
  }
  const { id, method, params, key } = req as typeof req & { key?: unknown };
  if (typeof method !== 'string' || !(API_METHODS as readonly string[]).includes(method) || !Array.isArray(params)) {
    return { id, error: { message: `unknown method ${String(method)}`, code: 'ENOSYS' } };
  }
  let as = api;
  if (key !== undefined) {
    try {
      if (typeof key !== 'string') throw new Error('not a string');
      as = api.actingAs(keyPairFromPrivate(privateKeyFromPem(key)));
    } catch {
      return { id, error: { message: 'the key sent with the request is not an Ed25519 private key (PEM PKCS#8)', code: 'EINVAL' } };
    }
  }
  try {
    const fn = (as as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
    return { id, result: await fn.apply(as, params) };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { id, error: { message: err.message, code: typeof err.code === 'string' ? err.code : 'EIO' } };
  }
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function controlAlive(path: string): Promise<boolean> {
  return existsSync(path) && probe(path);
}

// Client side: calls one method on the running node.
export function callControl(path: string, method: string, params: unknown[], timeoutMs = 600_000, keyPem?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new UserError(`the node did not answer ${method} within ${timeoutMs / 1000} s`, 'ETIMEDOUT'));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(JSON.stringify(keyPem === undefined ? { id: 1, method, params } : { id: 1, method, params, key: keyPem }) + '\n'));
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      clearTimeout(timer);
      s.end();
      const r = JSON.parse(buf.slice(0, i));
      if (r.error) reject(new UserError(r.error.message, r.error.code));
      else resolve(r.result);
    });
    // The node died or closed the connection without answering (a SIGKILL mid-request):
    // fail now instead of waiting for the timeout. (A no-op once settled.)
    s.once('close', () => {
      clearTimeout(timer);
      reject(new UserError(`the node closed the control connection before answering ${method} (did it stop or crash?); check with basefs status`, 'ECONNRESET'));
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === 'EACCES' ? new UserError(`permission denied on the control socket ${path}: only its owner may control this node`, 'EACCES') : new UserError(`cannot reach the node's control socket ${path}: ${e.message}`, e.code));
    });
  });
}
