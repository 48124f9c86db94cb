// The basefs side of the comparison, through the real components: Filesystem (log + view +
// chunk store, every acknowledged write fdatasync'ed) for writes and reads, and two real nodes
// (startNode: filesystem + control socket + libp2p network on 127.0.0.1, mDNS off) for
// replication. The second node starts from an empty data directory and pulls over the
// network layer: anti-entropy sync of the log, then the content fetcher for every file.
import { mkdirSync } from 'node:fs';
import { Filesystem } from '../../src/node/filesystem.ts';
import { startNode, type RunningNode } from '../../src/daemon/runtime.ts';
import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.ts';
import { hostPort } from '../../src/network/addr.ts';
import { multiaddr } from '@multiformats/multiaddr';
import { sha256hex } from './common.ts';

const NAME = 'bench';
const MAX_GET_RUNS = Number(process.env.BENCH_PEERS_GET_RUNS ?? 100);

function logBytes(fs: Filesystem): number {
  let n = 0;
  for (const node of fs.dag.nodes.values()) n += node.entry.bytes.length;
  return n;
}

function nodeOpts(home: string, kp: KeyPair | null) {
  return { home, name: NAME, kp, port: 0, listenHost: '127.0.0.1', mdns: false, join: [] as string[] };
}

export class BasefsWriter {
  readonly dir: string;
  private kp: KeyPair = generateKeyPair();
  private fs!: Filesystem;
  private node: RunningNode | null = null;
  private closed = true;

  constructor(dir: string) {
    this.dir = dir;
  }

  get key(): string {
    return NAME;
  }

  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.fs = await Filesystem.create(this.dir, NAME, this.kp, []);
    this.closed = false;
  }

  async mkdirs(dirs: string[]): Promise<void> {
    for (const d of dirs) await this.fs.mkdir(d);
  }

  async put(path: string, data: Uint8Array): Promise<void> {
    await this.fs.writeFile(path, data);
  }

  async get(path: string): Promise<Uint8Array> {
    return this.fs.readFile(path);
  }

  // Distinct chunk bytes (content stored once) plus the bytes of the log's entries.
  async logicalBytes(): Promise<number> {
    const st = await this.fs.content.stats();
    return st.bytesStored + logBytes(this.fs);
  }

  // Restarts the filesystem (closed to measure its disk use) as a full node with its network
  // listening on 127.0.0.1.
  async serve(): Promise<{ host: string; port: number; key: string }> {
    await this.close();
    this.closed = false;
    this.node = await startNode(nodeOpts(this.dir, this.kp));
    this.fs = this.node.fs;
    for (const a of this.node.net!.addrs()) {
      const hp = hostPort(multiaddr(a));
      if (hp && hp.startsWith('127.0.0.1:')) return { host: '127.0.0.1', port: Number(hp.slice(hp.lastIndexOf(':') + 1)), key: NAME };
    }
    throw new Error(`basefs node listens on no 127.0.0.1 address: ${this.node.net!.addrs().join(', ')}`);
  }

  // The serving node's counters (requests it refused, bytes it sent), for the report.
  serverStats(): Record<string, number> {
    const c = this.node?.net?.counters;
    return c ? { rateLimited: c.rateLimited, syncsIn: c.syncsIn, chunksOut: c.chunksOut, chunkBytesOut: c.chunkBytesOut } : {};
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.node) await this.node.stop();
    else await this.fs.close();
    this.node = null;
  }
}

export class BasefsPeer {
  readonly dir: string;
  private node: RunningNode | null = null;

  constructor(dir: string) {
    this.dir = dir;
  }

  async init(_key: string): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private get fs(): Filesystem {
    return this.node!.fs;
  }

  // `basefs get bench 127.0.0.1:PORT` (through the proxy), as an operator fetches a filesystem:
  // opens an empty data directory, pulls and verifies the whole log over the sync protocol,
  // then every file's chunks (four files at a time), each verified against its hash.
  // `basefs get` is resumable: when a run leaves files incomplete the operator runs it again
  // (a second later here); the runs are counted and reported, at most MAX_GET_RUNS.
  attempts = 0;
  incompleteFirst = 0;
  async fetchAll(port: number): Promise<void> {
    const { getFilesystem } = await import('../../src/network/get.ts');
    for (;;) {
      this.attempts++;
      const r = await getFilesystem(this.dir, NAME, `127.0.0.1:${port}`, null);
      if (this.attempts === 1) this.incompleteFirst = r.filesIncomplete;
      if (r.filesIncomplete === 0) return;
      if (this.attempts >= MAX_GET_RUNS) throw new Error(`basefs get left ${r.filesIncomplete} files incomplete after ${this.attempts} runs`);
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  // Then `basefs run bench -j 127.0.0.1:PORT`: a full node, connected to the first one (not
  // timed). Waits until gossip flows both ways and the initial anti-entropy exchange is over.
  async live(port: number): Promise<void> {
    this.node = await startNode({ ...nodeOpts(this.dir, null), join: [`127.0.0.1:${port}`] });
    const net = this.node.net!;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const subs = net.topic ? net.libp2p.services.pubsub.getSubscribers(net.topic) : [];
      if (subs.length > 0 && net.members().some((m) => m.connected)) break;
      if (Date.now() > deadline) throw new Error('basefs second node did not join the first one');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 1500));
  }

  async fetchUpdate(path: string, expectSha: string): Promise<void> {
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      const n = this.fs.lookup(path);
      if (n?.root && (await this.fs.content.missing(n.root)).length === 0) {
        const data = await this.fs.readFile(path);
        if (sha256hex(data) === expectSha) return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('basefs peer never got the new version');
  }

  // Content bytes/chunks this node received (its fetcher's counters), for the report's notes.
  stats(): Record<string, number> {
    const c = this.node?.net?.content;
    return c ? { contentBytesIn: c.bytesIn, chunksIn: c.chunksIn } : {};
  }

  async digest(): Promise<Record<string, string>> {
    const fs = this.node ? this.node.fs : await Filesystem.open(this.dir, NAME, null);
    const out: Record<string, string> = {};
    const walk = async (p: string) => {
      for (const name of fs.state.readdir(p)) {
        const c = p === '/' ? '/' + name : p + '/' + name;
        const n = fs.lookup(c);
        if (n?.type === 'dir') await walk(c);
        else if (n?.type === 'file') {
          try {
            out[c] = sha256hex(await fs.readFile(c));
          } catch (e) {
            out[c] = `unreadable: ${(e as Error).message}`;
          }
        }
      }
    };
    try {
      await walk('/');
    } finally {
      if (!this.node) await fs.close();
    }
    return out;
  }

  async close(): Promise<void> {
    await this.node?.stop();
  }
}

// Cold open: a fresh process opens the filesystem as `basefs ls`/`cat` of a stopped
// filesystem do (the stored view: no replay of the log), then reads one file / lists every
// file with its attributes (one range scan per directory). A running node still replays the
// log at start (docs/LOG.md, "Stored view").
export async function basefsColdOpen(dir: string, _key: string, probe: string): Promise<{ firstReadMs: number; listMs: number; files: number; rssMb: number }> {
  const t0 = performance.now();
  const fs = await Filesystem.open(dir, NAME, null, { lazy: true });
  await fs.readFile(probe);
  const firstReadMs = performance.now() - t0;
  let files = 0;
  const walk = async (p: string): Promise<void> => {
    for (const n of await fs.listInodes(p)) {
      if (n.type === 'dir') await walk(n.path);
      else files++;
    }
  };
  await walk('/');
  const listMs = performance.now() - t0;
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  await fs.close();
  return { firstReadMs, listMs, files, rssMb };
}
