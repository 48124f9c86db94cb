// The Hyperdrive side of the comparison, used the way its README shows: a Corestore on disk,
// `new Hyperdrive(store)`, drive.put / drive.get / drive.list, and replication by piping
// `store.replicate(isInitiator)` through a TCP socket (what Hyperswarm does, minus the DHT).
// Loaded from bench/peers/node_modules (installed from bench/peers/package-lock.json).
import { createRequire } from 'node:module';
import net from 'node:net';
import { ensureInstalled } from './install.ts';
import { sha256hex } from './common.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
let mods: { Corestore: any; Hyperdrive: any } | null = null;
function load(): { Corestore: any; Hyperdrive: any } {
  if (!mods) {
    ensureInstalled();
    const req = createRequire(new URL('./package.json', import.meta.url));
    mods = { Corestore: req('corestore'), Hyperdrive: req('hyperdrive') };
  }
  return mods;
}

export function hyperVersions(): { hyperdrive: string; corestore: string; hypercore: string } {
  ensureInstalled();
  const req = createRequire(new URL('./package.json', import.meta.url));
  return {
    hyperdrive: req('hyperdrive/package.json').version,
    corestore: req('corestore/package.json').version,
    hypercore: req('hypercore/package.json').version,
  };
}

function pipeReplication(socket: net.Socket, repl: any): void {
  socket.setNoDelay(true);
  socket.pipe(repl).pipe(socket);
  const stop = () => {
    socket.destroy();
    repl.destroy();
  };
  socket.on('error', stop);
  socket.on('close', stop);
  repl.on('error', stop);
  repl.on('close', stop);
}

// The first node: creates the drive, writes, reads, and serves replication over TCP.
export class HyperWriter {
  readonly dir: string;
  store: any;
  drive: any;
  key = '';
  blockSize = 65536;
  private server: net.Server | null = null;
  private closed = true;

  constructor(dir: string) {
    this.dir = dir;
  }

  async open(): Promise<void> {
    const { Corestore, Hyperdrive } = load();
    this.store = new Corestore(this.dir);
    this.drive = this.key ? new Hyperdrive(this.store, Buffer.from(this.key, 'hex')) : new Hyperdrive(this.store);
    await this.drive.ready();
    this.key = this.drive.key.toString('hex');
    this.blockSize = (await this.drive.getBlobs()).blockSize ?? 65536;
    this.closed = false;
  }

  async mkdirs(_dirs: string[]): Promise<void> {
    // directories are implicit in Hyperdrive
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    await this.drive.put(path, data);
  }

  // Hyperdrive 13's dedup option (createWriteStream({dedup: true})): blocks equal to a block
  // of the previous version of the same path are referenced instead of stored again. A stream
  // block is one write(), so the data is written in 64 KiB pieces: the blob core's block size,
  // and what piping a file (fs.createReadStream's default highWaterMark) gives.
  async putDedup(path: string, data: Uint8Array): Promise<void> {
    const ws = this.drive.createWriteStream(path, { dedup: true });
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('close', () => resolve());
      const step = this.blockSize;
      let off = 0;
      const pump = () => {
        while (off < data.length) {
          const piece = data.subarray(off, off + step);
          off += piece.length;
          if (!ws.write(Buffer.from(piece.buffer, piece.byteOffset, piece.length))) return ws.once('drain', pump);
        }
        ws.end();
      };
      pump();
    });
  }

  async get(path: string): Promise<Buffer> {
    const b = await this.drive.get(path);
    if (!b) throw new Error(`hyperdrive: no ${path}`);
    return b;
  }

  // Bytes appended to the drive's cores (Hyperbee index + blob core): what the drive stores.
  async logicalBytes(): Promise<number> {
    const blobs = await this.drive.getBlobs();
    return this.drive.core.byteLength + blobs.core.byteLength;
  }

  // Reopens the drive (closed to measure its disk use) and serves replication on 127.0.0.1.
  async serve(): Promise<{ host: string; port: number; key: string }> {
    if (this.closed) await this.open();
    this.server = net.createServer((socket) => pipeReplication(socket, this.store.replicate(false)));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return { host: '127.0.0.1', port: (this.server.address() as net.AddressInfo).port, key: this.key };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.server) {
      this.server.close(); // open replication sockets are closed with the store
      this.server = null;
    }
    await this.drive.close();
    await this.store.close();
  }
}

// The second node (runs in its own process): replicates the drive from the first one.
export class HyperPeer {
  readonly dir: string;
  store: any;
  drive: any;
  socket: net.Socket | null = null;

  constructor(dir: string) {
    this.dir = dir;
  }

  private key = '';

  async init(key: string): Promise<void> {
    load();
    this.key = key;
  }

  // Opens an empty store, connects (through the counting proxy), then downloads the latest
  // version of everything (index and blobs), each block verified against the signed tree.
  async fetchAll(port: number): Promise<void> {
    const { Corestore, Hyperdrive } = load();
    this.store = new Corestore(this.dir);
    this.drive = new Hyperdrive(this.store, Buffer.from(this.key, 'hex'));
    await this.drive.ready();
    const done = this.drive.findingPeers();
    this.socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      this.socket!.once('connect', () => resolve());
      this.socket!.once('error', reject);
    });
    pipeReplication(this.socket, this.store.replicate(true));
    done();
    await this.drive.update({ wait: true });
    const dl = this.drive.download('/');
    await dl.done();
  }

  // Replication stays live on the same connection: nothing to do.
  async live(_port: number): Promise<void> {}

  // After the first node rewrote PATH: get the new version and its missing blocks.
  async fetchUpdate(path: string, expectSha: string): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await this.drive.update({ wait: true });
      const dl = this.drive.download(path);
      await dl.done();
      const data = await this.drive.get(path, { wait: false });
      if (data && sha256hex(data) === expectSha) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('hyperdrive peer never saw the new version');
  }

  // Untimed check that everything arrived: every file's hash, read without network waits.
  async digest(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for await (const e of this.drive.list('/', { recursive: true })) {
      try {
        const b = await this.drive.get(e.key, { wait: false });
        out[e.key] = b ? sha256hex(b) : 'missing';
      } catch (err) {
        out[e.key] = `unreadable: ${(err as Error).message}`;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await this.drive.close();
    await this.store.close();
  }
}

// Cold open: a fresh process opens the store and drive, then reads one file / lists all.
export async function hyperColdOpen(dir: string, key: string, probe: string): Promise<{ firstReadMs: number; listMs: number; files: number; rssMb: number }> {
  const { Corestore, Hyperdrive } = load();
  const t0 = performance.now();
  const store = new Corestore(dir);
  const drive = new Hyperdrive(store, Buffer.from(key, 'hex'));
  await drive.ready();
  const b = await drive.get(probe, { wait: false });
  if (!b) throw new Error('cold open: probe file missing');
  const firstReadMs = performance.now() - t0;
  let files = 0;
  for await (const _ of drive.list('/', { recursive: true })) files++;
  const listMs = performance.now() - t0;
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  await drive.close();
  await store.close();
  return { firstReadMs, listMs, files, rssMb };
}
