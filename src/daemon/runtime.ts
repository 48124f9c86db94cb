import type { Server } from 'node:net';
import { unlinkSync } from 'node:fs';
import { Filesystem } from '../node/filesystem.ts';
import { FsApi, type NodeInfo } from '../node/api.ts';
import { startControlServer } from '../node/control.ts';
import { controlSocketPath, defaultPort, readSettings, writeSettings } from '../node/datadir.ts';
import type { KeyPair } from '../crypto/keys.ts';
import { startNetwork, type NetNode } from '../network/node.ts';
import { logger } from '../node/logger.ts';
import { envSeconds } from '../node/env.ts';
import { WatchServer } from '../node/watch.ts';
import { HookManager } from '../node/hooks.ts';

// The composition of a running node: it uses node/ (filesystem, control socket) and network/
// (libp2p), so it lives above both; network/ itself depends on node/.

export interface NodeOptions {
  home: string;
  name: string;
  kp: KeyPair | null;
  port?: number; // default: derived from the name; 0 = any free port
  join?: string[]; // extra addresses to dial (ip, ip:port, multiaddr)
  listenHost?: string; // default 0.0.0.0
  mdns?: boolean; // default true
  network?: boolean; // default true; false for a purely local node (tests)
}

// A running node: the filesystem, its control socket and (optionally) the libp2p network.
// FUSE is layered on top by the mount command.
export class RunningNode {
  fs: Filesystem;
  api: FsApi;
  net: NetNode | null;
  private control: Server;
  private sockPath: string;
  private stopping: Promise<void> | null = null;
  private cleanups: (() => Promise<void>)[] = [];

  constructor(fs: Filesystem, api: FsApi, net: NetNode | null, control: Server, sockPath: string) {
    this.fs = fs;
    this.api = api;
    this.net = net;
    this.control = control;
    this.sockPath = sockPath;
  }

  // Runs before the network and the log close (e.g. unmount FUSE, flush open files).
  onStop(fn: () => Promise<void>): void {
    this.cleanups.unshift(fn);
  }

  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const fn of this.cleanups) {
      try {
        await fn();
      } catch (e) {
        logger.warn({ err: (e as Error).message }, 'cleanup failed');
      }
    }
    await new Promise<void>((r) => this.control.close(() => r()));
    try { unlinkSync(this.sockPath); } catch { /* already gone */ }
    if (this.net) await this.net.stop();
    await this.fs.close();
  }
}

export async function startNode(o: NodeOptions): Promise<RunningNode> {
  // Progress lines go to the node's log: the parent of a background node waits while they come
  // (BASEFS_PROGRESS_INTERVAL seconds apart at most, 2 by default).
  const progressEveryMs = envSeconds('BASEFS_PROGRESS_INTERVAL', 2) * 1000;
  const fs = await Filesystem.open(o.home, o.name, o.kp, { progressEveryMs, onProgress: (n, p) => process.stderr.write(`opening ${o.name}: ${n} entries read${p ? `, ${p} parked entries checked` : ''}\n`), notice: (m) => process.stderr.write(`${m}\n`) });
  const settings = readSettings(o.home, o.name);
  const port = o.port ?? settings.port ?? defaultPort(o.name);
  let net: NetNode | null = null;
  let control: Server | null = null;
  try {
    const info: NodeInfo = {
      members: () => (net ? net.members() : []),
      resources: () => (net ? net.resources() : null),
      transfers: () => (net ? net.transfers() : { inTransfer: 0 }),
    };
    const api = new FsApi(fs, info);
    const sockPath = controlSocketPath(o.home, o.name);
    const watch = new WatchServer(fs);
    const hooks = new HookManager(fs, o.home);
    info.hooks = () => hooks.failing();
    control = await startControlServer(sockPath, api, { watch: watch.handler, ...hooks.handlers() });
    if (o.network !== false) {
      net = await startNetwork(fs, { port, host: o.listenHost ?? '0.0.0.0', join: o.join ?? [], mdns: o.mdns !== false, home: o.home });
    }
    // mountpoint: cleared here, set by the mount command once its mount is up, so a node
    // started with `run` never shows the mount point of an earlier mount.
    writeSettings(o.home, o.name, { ...settings, port: o.port !== undefined && o.port !== 0 ? o.port : settings.port, mountpoint: undefined });
    const node = new RunningNode(fs, api, net, control, sockPath);
    node.onStop(async () => watch.stop());
    // Hooks start last: `run` and `mount` both get them; a run needs the node's control socket
    // (a hook may call basefs) and the network (content of a peer's write).
    node.onStop(() => hooks.stop());
    await hooks.start();
    return node;
  } catch (e) {
    if (control) control.close();
    if (net) await net.stop().catch(() => {});
    await fs.close();
    throw e;
  }
}
