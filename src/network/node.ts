import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { mdns } from '@libp2p/mdns';
import { gossipsub, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import type { PeerId, Stream, Connection, PrivateKey } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { sha256, toHex, bytesEqual } from '../crypto/hash.ts';
import { decodeEntry } from '../log/codec.ts';
import { verifyEntry } from '../log/sign.ts';
import { Kind, type Entry } from '../log/entry.ts';
import type { Filesystem } from '../node/filesystem.ts';
import { defaultPort } from '../node/datadir.ts';
import { logger } from '../node/logger.ts';
import { FramedStream } from './frame.ts';
import { CHUNKS_PROTOCOL, SYNC_PROTOCOL, NET_LIMITS, decodeGossip, encodeGossip, gossipEntryBytes, topicFor, type InlineChunk } from './messages.ts';
import { ArrivalIndex } from './reconcile.ts';
import { pullSession, serveSession, type PullOptions, type PullResult } from './sync.ts';
import { ContentFetcher, serveChunks } from './content.ts';
import { loadOrCreatePeerKey } from './peerkey.ts';
import { hostPort, parseClusterFile, peerIdOf, toMultiaddr } from './addr.ts';
import { GossipBudget, RateLimiter, type GossipBudgetLimits } from './ratelimit.ts';

export interface NetOptions {
  port: number; // 0 = any free port
  host: string; // listen address, e.g. 0.0.0.0
  join: string[]; // extra addresses to dial (ip, ip:port, multiaddr)
  mdns: boolean;
  home: string;
  listen?: boolean; // default true; false for a dial-only node (basefs get)
  syncIntervalMs?: number; // mean period of anti-entropy with a random member (default 7000)
  fetchContent?: boolean; // keep every file's chunks local (default true)
  autoConnect?: boolean; // default true: dial rendezvous addresses, redial members, periodic sync
  gossipBudget?: Partial<GossipBudgetLimits>; // per-peer gossip budget (default: NET_LIMITS)
}

export interface Member {
  peerId: string;
  addrs: string[];
  connected: boolean;
  lastSeen: number | null;
}

interface PeerRec {
  id: string;
  addrs: Set<string>;
  member: boolean; // proved to serve the same filesystem
  discovered: boolean; // announced on the LAN under our filesystem's mDNS service
  foreign: boolean; // serves another filesystem
  lastSeen: number | null;
  syncing: boolean;
  syncAgain: boolean;
  lastSync: number;
  rejected: number;
  // Has shown entries of our log that are valid here and that we lacked (a pull that brought
  // some, ended with all its heads held and nothing refused, or valid gossip). Unproven peers
  // share one pull slot, so that strangers that dribble or flood cannot hold every slot.
  proven: boolean;
  unprovenSlot: boolean; // this peer's running pull holds the shared slot
}

const STREAM_TIMEOUT_MS = 30_000;
const MAX_OUTGOING_SYNCS = 4;
const MAX_UNPROVEN_SYNCS = 1;
const PUBLISH_BATCH_LIMIT = 64;
const ADMIT_WAIT_MS = 20_000;
const TRACE_APPLIED = process.env.BASEFS_TRACE_APPLIED === '1'; // larger batches (bulk sync) are left to anti-entropy

function isPeerId(s: string): boolean {
  if (s.startsWith('/') || s.includes(':') || s.includes('.')) return false;
  try {
    peerIdFromString(s);
    return true;
  } catch {
    return false;
  }
}

export async function startNetwork(fs: Filesystem, o: NetOptions): Promise<NetNode> {
  const key = await loadOrCreatePeerKey(fs.dir);
  const n = new NetNode(fs, o, key);
  try {
    await n.start();
  } catch (e) {
    await n.stop().catch(() => {});
    throw e;
  }
  return n;
}

// The network side of one filesystem on this node: libp2p host, gossip, anti-entropy and
// content transfer. Emits 'synced' (peerId, PullResult) after each successful pull.
export class NetNode extends EventEmitter {
  readonly fs: Filesystem;
  readonly o: NetOptions;
  private key: PrivateKey;
  libp2p!: Libp2p<{ pubsub: GossipSub; identify: unknown }>;
  peerId = '';
  topic: string | null = null;
  readonly index: ArrivalIndex;
  readonly content: ContentFetcher;
  private peers = new Map<string, PeerRec>();
  private timers: NodeJS.Timeout[] = [];
  private tickTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private gossipIds = new Set<string>();
  private dialing = new Set<string>();
  private addrPeer = new Map<string, string>(); // dialed address -> peer id it reached
  private clusterAddrs: string[] = [];
  private outgoing = 0;
  private unprovenOutgoing = 0;
  private syncQueue: string[] = [];
  private syncLimiter = new RateLimiter(2, 20);
  private chunkLimiter = new RateLimiter(50, 200);
  private gossipBudget: GossipBudget;
  private overBudgetWarned = 0;
  private ownHostPorts = new Set<string>();
  private onEntries: (entries: Entry[]) => void;
  counters = {
    gossipIn: 0, gossipOut: 0, gossipAccepted: 0, gossipIgnored: 0, gossipRejected: 0, gossipBytesIn: 0, gossipBytesOut: 0,
    syncsOut: 0, syncsIn: 0, syncFailures: 0, syncEntriesIn: 0, syncEntriesOut: 0, syncBytesIn: 0, syncBytesOut: 0,
    chunksOut: 0, chunkBytesOut: 0, rateLimited: 0, dials: 0, dialFailures: 0, gossipOverBudget: 0, gossipBytesOverBudget: 0,
  };

  constructor(fs: Filesystem, o: NetOptions, key: PrivateKey) {
    super();
    this.fs = fs;
    this.o = o;
    this.key = key;
    this.index = new ArrivalIndex(fs.dag);
    this.content = new ContentFetcher(fs, (p) => this.openStream(p, CHUNKS_PROTOCOL), () => this.memberIds(true));
    this.onEntries = (entries) => this.handleEntries(entries);
    const L = NET_LIMITS;
    this.gossipBudget = new GossipBudget({ msgsPerSec: L.gossipMsgsPerSec, burstMsgs: L.gossipBurstMsgs, bytesPerSec: L.gossipBytesPerSec, burstBytes: L.gossipBurstBytes, ...o.gossipBudget });
  }

  async start(): Promise<void> {
    const listen = this.o.listen === false ? [] : [this.o.host.includes(':') ? `/ip6/${this.o.host}/tcp/${this.o.port}` : `/ip4/${this.o.host}/tcp/${this.o.port}`];
    const topicParams = {
      topicWeight: 1,
      timeInMeshWeight: 0.01, timeInMeshQuantum: 1000, timeInMeshCap: 100,
      firstMessageDeliveriesWeight: 1, firstMessageDeliveriesDecay: 0.9, firstMessageDeliveriesCap: 50,
      meshMessageDeliveriesWeight: 0, meshMessageDeliveriesDecay: 0.5, meshMessageDeliveriesCap: 100, meshMessageDeliveriesThreshold: 1, meshMessageDeliveriesWindow: 10, meshMessageDeliveriesActivation: 5000,
      meshFailurePenaltyWeight: 0, meshFailurePenaltyDecay: 0.5,
      invalidMessageDeliveriesWeight: -20, invalidMessageDeliveriesDecay: 0.9,
    };
    const fsIdHex = this.fs.dag.fsIdHex;
    this.libp2p = (await createLibp2p({
      privateKey: this.key,
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: this.o.mdns && fsIdHex ? [mdns({ serviceTag: `_basefs-${fsIdHex.slice(0, 16)}._udp.local`, interval: 5000 })] : [],
      connectionManager: { maxConnections: 300, dialTimeout: 10_000 },
      connectionMonitor: { pingInterval: 5000 },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictNoSign',
          msgIdFn: (m: Message) => sha256(gossipEntryBytes(m.data) ?? m.data),
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          emitSelf: false,
          floodPublish: true,
          doPX: false,
          maxInboundDataLength: NET_LIMITS.maxGossipBytes + 4096,
          scoreParams: {
            IPColocationFactorWeight: 0,
            behaviourPenaltyWeight: -1,
            topics: fsIdHex ? { [topicFor(fsIdHex)]: topicParams } : {},
          },
        }),
      },
    } as never)) as unknown as Libp2p<{ pubsub: GossipSub; identify: unknown }>;
    this.peerId = this.libp2p.peerId.toString();
    const lp = this.libp2p;

    await lp.handle(SYNC_PROTOCOL, (stream: Stream, conn: Connection) => this.serveSync(stream, conn), { maxInboundStreams: 8 });
    await lp.handle(CHUNKS_PROTOCOL, (stream: Stream, conn: Connection) => this.serveChunkStream(stream, conn), { maxInboundStreams: 16 });

    lp.addEventListener('peer:discovery', (ev) => {
      const info = ev.detail;
      const id = info.id.toString();
      if (id === this.peerId) return;
      const r = this.rec(id);
      r.discovered = true;
      for (const a of info.multiaddrs) r.addrs.add(a.toString());
      if (lp.getConnections(info.id).length === 0) void this.dialPeer(info.id, info.multiaddrs);
    });
    lp.addEventListener('peer:connect', (ev) => {
      const id = ev.detail.toString();
      const r = this.rec(id);
      r.lastSeen = Date.now();
      for (const c of lp.getConnections(ev.detail)) r.addrs.add(c.remoteAddr.toString());
      // both sides pull; the short delay lets identify finish first
      setTimeout(() => this.requestSync(id), 150 + Math.random() * 200).unref();
    });
    lp.addEventListener('peer:identify', (ev) => {
      const id = ev.detail.peerId.toString();
      const r = this.rec(id);
      const listen = ev.detail.listenAddrs.map((a) => a.toString()).filter((a) => !a.includes('/ip4/127.') && !a.includes('/ip6/::1'));
      if (listen.length) r.addrs = new Set(listen);
    });
    lp.services.pubsub.addEventListener('subscription-change', (ev) => {
      const id = ev.detail.peerId.toString();
      if (this.topic && ev.detail.subscriptions.some((s) => s.topic === this.topic && s.subscribe)) {
        const r = this.rec(id);
        if (!r.foreign) r.member = true;
      }
    });
    lp.services.pubsub.addEventListener('message', (ev) => {
      void ev; // delivery happens in the validator (ingest); nothing to do here
    });

    if (fsIdHex) this.subscribe(fsIdHex);
    this.fs.on('entries', this.onEntries);
    this.computeOwnAddrs();

    if (this.o.autoConnect === false) return;
    // rendezvous: -j addresses and /.cluster, now and every few seconds while not connected
    await this.readCluster();
    this.maintain();
    this.every(5000, () => this.maintain());
    const mean = this.o.syncIntervalMs ?? 7000;
    const tick = () => {
      if (this.stopped) return;
      this.antiEntropyTick();
      this.tickTimer = setTimeout(tick, mean * (0.6 + Math.random() * 0.8));
    };
    this.tickTimer = setTimeout(tick, mean * (0.6 + Math.random() * 0.8));
    if (this.o.fetchContent !== false && this.fs.dag.fsId) this.content.enqueueAll();
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(() => {
      if (!this.stopped) fn();
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private subscribe(fsIdHex: string): void {
    if (this.topic) return;
    this.topic = topicFor(fsIdHex);
    const ps = this.libp2p.services.pubsub;
    ps.topicValidators.set(this.topic, (peer, msg) => this.validate(peer, msg));
    ps.subscribe(this.topic);
  }

  private rec(id: string): PeerRec {
    let r = this.peers.get(id);
    if (!r) {
      r = { id, addrs: new Set(), member: false, discovered: false, foreign: false, lastSeen: null, syncing: false, syncAgain: false, lastSync: 0, rejected: 0, proven: false, unprovenSlot: false };
      this.peers.set(id, r);
    }
    return r;
  }

  private connectedIds(): string[] {
    const out = new Set<string>();
    for (const c of this.libp2p.getConnections()) if (c.status === 'open') out.add(c.remotePeer.toString());
    return [...out];
  }

  // Connected peers of our filesystem (when `membersOnly`) or every connected peer not known
  // to be foreign.
  private memberIds(membersOnly: boolean): string[] {
    return this.connectedIds().filter((id) => {
      const r = this.peers.get(id);
      return r ? !r.foreign && (!membersOnly || r.member) : !membersOnly;
    });
  }

  private computeOwnAddrs(): void {
    const port = this.listenPort();
    if (!port) return;
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) this.ownHostPorts.add(`${i.address}:${port}`);
  }

  private listenPort(): number | null {
    for (const a of this.libp2p.getMultiaddrs()) {
      const hp = hostPort(a);
      if (hp) return Number(hp.slice(hp.lastIndexOf(':') + 1));
    }
    return null;
  }

  // ---- rendezvous ----

  private async readCluster(): Promise<void> {
    try {
      if (!this.fs.dag.fsId || !this.fs.state?.lookup('/.cluster')) return;
      const text = Buffer.from(await this.fs.readFile('/.cluster')).toString('utf8');
      this.clusterAddrs = parseClusterFile(text);
    } catch (e) {
      logger.debug({ err: (e as Error).message }, 'cannot read /.cluster yet');
    }
  }

  private rendezvousAddrs(): Multiaddr[] {
    const out: Multiaddr[] = [];
    const port = defaultPort(this.fs.name);
    for (const a of [...this.o.join, ...this.clusterAddrs]) {
      try {
        const ma = toMultiaddr(a, port);
        const hp = hostPort(ma);
        if (hp && this.ownHostPorts.has(hp)) continue;
        out.push(ma);
      } catch (e) {
        logger.debug({ addr: a, err: (e as Error).message }, 'skipping bad address');
      }
    }
    return out;
  }

  private maintain(): void {
    if (this.stopped) return;
    const connected = new Set(this.connectedIds());
    for (const ma of this.rendezvousAddrs()) {
      const key = ma.toString();
      const pid = peerIdOf(ma) ?? this.addrPeer.get(key);
      if (pid && (connected.has(pid) || pid === this.peerId)) continue;
      void this.dialAddr(ma);
    }
    // redial members we lost (e.g. after a network partition heals) and LAN peers whose
    // first dial failed (e.g. both sides dialled at once)
    for (const r of this.peers.values()) {
      if (!(r.member || r.discovered) || r.foreign || connected.has(r.id) || r.addrs.size === 0) continue;
      try {
        const addrs: Multiaddr[] = [];
        for (const a of r.addrs) {
          try {
            addrs.push(multiaddr(a));
          } catch { /* skip */ }
        }
        void this.dialPeer(peerIdFromString(r.id), addrs);
      } catch { /* bad id */ }
    }
  }

  private async dialAddr(ma: Multiaddr): Promise<void> {
    const key = ma.toString();
    if (this.dialing.has(key) || this.stopped) return;
    this.dialing.add(key);
    this.counters.dials++;
    try {
      const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(8000) });
      this.addrPeer.set(key, conn.remotePeer.toString());
    } catch (e) {
      this.counters.dialFailures++;
      const msg = (e as Error).message;
      if (/dial self|can not dial self/i.test(msg)) this.addrPeer.set(key, this.peerId);
      logger.debug({ addr: key, err: msg }, 'dial failed');
    } finally {
      this.dialing.delete(key);
    }
  }

  private async dialPeer(id: PeerId, addrs: Multiaddr[]): Promise<void> {
    const key = id.toString();
    if (this.dialing.has(key) || this.stopped) return;
    this.dialing.add(key);
    this.counters.dials++;
    try {
      if (addrs.length) await this.libp2p.peerStore.merge(id, { multiaddrs: addrs });
      await this.libp2p.dial(id, { signal: AbortSignal.timeout(8000) });
    } catch (e) {
      this.counters.dialFailures++;
      logger.debug({ peer: key, err: (e as Error).message }, 'dial failed');
    } finally {
      this.dialing.delete(key);
    }
  }

  // Dials ADDR (ip, ip:port or multiaddr) and returns the peer id reached.
  async connect(addr: string, timeoutMs = 15_000): Promise<string> {
    const ma = toMultiaddr(addr, defaultPort(this.fs.name));
    const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(timeoutMs) });
    const id = conn.remotePeer.toString();
    this.addrPeer.set(ma.toString(), id);
    this.rec(id).addrs.add(conn.remoteAddr.toString());
    return id;
  }

  // ---- streams ----

  private async openStream(peer: string, protocol: string, timeoutMs = STREAM_TIMEOUT_MS): Promise<FramedStream> {
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), protocol, { signal: AbortSignal.timeout(10_000) });
    const maxFrame = protocol === CHUNKS_PROTOCOL ? NET_LIMITS.maxChunkBytes + 64 : NET_LIMITS.maxFrameBytes;
    const f = new FramedStream(stream as never, maxFrame, timeoutMs);
    f.frameMinMs = NET_LIMITS.frameMinMs;
    f.frameMinRate = NET_LIMITS.frameMinRate;
    return f;
  }

  // Per-peer request rate: a request over the rate waits for a token (backpressure) up to
  // ADMIT_WAIT_MS, then is refused.
  private async admit(l: RateLimiter, id: string): Promise<boolean> {
    const deadline = Date.now() + ADMIT_WAIT_MS;
    let waited = false;
    while (!l.take(id)) {
      if (!waited) this.counters.rateLimited++;
      waited = true;
      if (Date.now() > deadline || this.stopped) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }

  private async serveSync(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    const r = this.rec(id);
    r.lastSeen = Date.now();
    const fsm = new FramedStream(stream as never, NET_LIMITS.maxFrameBytes, STREAM_TIMEOUT_MS);
    fsm.deadline = Date.now() + NET_LIMITS.syncSessionMs;
    fsm.minRate = NET_LIMITS.syncMinRate;
    fsm.frameMinMs = NET_LIMITS.frameMinMs;
    fsm.frameMinRate = NET_LIMITS.frameMinRate;
    if (!(await this.admit(this.syncLimiter, id))) {
      stream.abort(new Error('rate limited'));
      return;
    }
    this.counters.syncsIn++;
    try {
      const res = await serveSession(this.fs, fsm, {
        index: this.index,
        onHello: (heads) => {
          r.member = true;
          r.foreign = false;
          if (heads.some((h) => !this.fs.dag.has(h))) this.requestSync(id);
        },
      });
      this.counters.syncEntriesOut += res.sent;
    } catch (e) {
      logger.debug({ peer: id, err: (e as Error).message }, 'serving sync failed');
      fsm.abort(e as Error);
    } finally {
      this.counters.syncBytesIn += fsm.bytesIn;
      this.counters.syncBytesOut += fsm.bytesOut;
    }
  }

  private async serveChunkStream(stream: Stream, conn: Connection): Promise<void> {
    const id = conn.remotePeer.toString();
    const fsm = new FramedStream(stream as never, NET_LIMITS.maxFrameBytes, STREAM_TIMEOUT_MS);
    if (!(await this.admit(this.chunkLimiter, id))) {
      stream.abort(new Error('rate limited'));
      return;
    }
    try {
      await serveChunks(this.fs, fsm, (b) => {
        this.counters.chunksOut++;
        this.counters.chunkBytesOut += b;
      });
    } catch (e) {
      logger.debug({ peer: id, err: (e as Error).message }, 'serving chunks failed');
      fsm.abort(e as Error);
    }
  }

  // ---- anti-entropy ----

  // Pulls from PEER (peer id string or an address to dial) now and returns the outcome.
  async syncWith(peer: string, opts: Partial<PullOptions> & { timeoutMs?: number; sessionMs?: number } = {}): Promise<PullResult> {
    let id = peer;
    if (!isPeerId(peer)) id = await this.connect(peer);
    const r = this.rec(id);
    const fsm = await this.openStream(id, SYNC_PROTOCOL, opts.timeoutMs ?? STREAM_TIMEOUT_MS);
    fsm.deadline = Date.now() + (opts.sessionMs ?? NET_LIMITS.syncSessionMs);
    fsm.minRate = NET_LIMITS.syncMinRate;
    this.counters.syncsOut++;
    try {
      const res = await pullSession(this.fs, fsm, { index: this.index, expectName: this.fs.name, source: id, ...opts });
      r.lastSeen = Date.now();
      r.lastSync = Date.now();
      r.member = true;
      r.foreign = false;
      this.counters.syncEntriesIn += res.received;
      // Proven only by valid entries we lacked: a pull from an empty log, or from a peer that
      // lists only heads we hold (any stranger can copy them from our HELLO), ends complete
      // with nothing shown, and would let a stranger hold a full slot afterwards.
      if (res.rejected === 0 && res.complete && res.accepted > 0) r.proven = true;
      if (res.rejected > 0) {
        r.proven = false;
        r.rejected += res.rejected;
        logger.warn({ peer: id, rejected: res.rejected, reasons: res.rejectReasons }, 'peer sent invalid entries during sync');
      }
      if (this.o.fetchContent !== false) {
        if (res.accepted > 0) this.content.enqueueAll(id);
        else this.content.retryFailed(id);
      }
      this.emit('synced', id, res);
      return res;
    } catch (e) {
      if (/another filesystem|serves filesystem/.test((e as Error).message)) {
        r.foreign = true;
        r.member = false;
      }
      fsm.abort(e as Error);
      throw e;
    } finally {
      this.counters.syncBytesIn += fsm.bytesIn;
      this.counters.syncBytesOut += fsm.bytesOut;
    }
  }

  // Schedules a pull from PEER (coalesced: one running and at most one pending per peer).
  requestSync(id: string): void {
    if (this.stopped || this.o.autoConnect === false) return;
    const r = this.rec(id);
    if (r.foreign) return;
    if (r.syncing) {
      r.syncAgain = true;
      return;
    }
    if (this.outgoing >= MAX_OUTGOING_SYNCS || (!r.proven && this.unprovenOutgoing >= MAX_UNPROVEN_SYNCS)) {
      if (!this.syncQueue.includes(id)) this.syncQueue.push(id);
      return;
    }
    r.syncing = true;
    this.outgoing++;
    r.unprovenSlot = !r.proven;
    if (r.unprovenSlot) this.unprovenOutgoing++;
    this.syncWith(id, { timeoutMs: STREAM_TIMEOUT_MS })
      .catch((e) => {
        this.counters.syncFailures++;
        logger.debug({ peer: id, err: (e as Error).message }, 'sync failed');
      })
      .finally(() => {
        r.syncing = false;
        this.outgoing--;
        if (r.unprovenSlot) this.unprovenOutgoing--;
        r.unprovenSlot = false;
        if (r.syncAgain && !this.stopped) {
          r.syncAgain = false;
          this.requestSync(id);
        }
        // the first queued peer that can run now (an unproven one waits for the shared slot)
        const i = this.syncQueue.findIndex((q) => this.rec(q).proven || this.unprovenOutgoing < MAX_UNPROVEN_SYNCS);
        if (i >= 0 && !this.stopped) this.requestSync(this.syncQueue.splice(i, 1)[0]);
      });
  }

  private antiEntropyTick(): void {
    if (this.o.fetchContent !== false) this.content.retryFailed();
    const ids = this.memberIds(false);
    if (ids.length === 0) return;
    this.requestSync(ids[Math.floor(Math.random() * ids.length)]);
  }

  // ---- gossip ----

  private async validate(peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const id = peer.toString();
    const r = this.rec(id);
    r.lastSeen = Date.now();
    this.counters.gossipIn++;
    this.counters.gossipBytesIn += msg.data.length;
    if (!this.gossipBudget.take(id, msg.data.length)) return this.overBudget(r, msg.data.length);
    const res = await this.check(id, msg.data);
    if (res === TopicValidatorResult.Accept) this.counters.gossipAccepted++;
    else if (res === TopicValidatorResult.Ignore) this.counters.gossipIgnored++;
    else {
      this.counters.gossipRejected++;
      r.rejected++;
    }
    return res;
  }

  // A message past the peer's budget is dropped before it is decoded. Ignore, not Reject: an
  // honest neighbour relays everyone's messages and may pass the budget in a burst of writes,
  // and Reject would score it out of the mesh; Ignore costs the sender nothing but the
  // delivery credit (gossipsub also keeps the id as seen, so copies from other peers are
  // dropped too). What it carried comes by anti-entropy: from a proven peer at once, from
  // others at the next periodic round or when a later entry names it as a dep.
  private overBudget(r: PeerRec, bytes: number): TopicValidatorResult {
    this.counters.gossipOverBudget++;
    this.counters.gossipBytesOverBudget += bytes;
    if (Date.now() - this.overBudgetWarned > 60_000) {
      this.overBudgetWarned = Date.now();
      logger.warn({ peer: r.id, limits: this.gossipBudget.limits }, 'a peer sends gossip faster than its budget; its messages are ignored until it slows (logged once a minute)');
    }
    if (r.proven) this.requestSync(r.id);
    return TopicValidatorResult.Ignore;
  }

  private async check(peer: string, data: Uint8Array): Promise<TopicValidatorResult> {
    let e: Entry;
    let chunks: InlineChunk[];
    try {
      const m = decodeGossip(data);
      e = decodeEntry(m.entry);
      chunks = m.chunks;
    } catch {
      return TopicValidatorResult.Reject;
    }
    const fsId = this.fs.dag.fsId;
    if (!fsId) return TopicValidatorResult.Ignore;
    if (e.kind === Kind.BOOTSTRAP) return e.idHex === this.fs.dag.fsIdHex ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
    if (!bytesEqual(e.fsId, fsId)) return TopicValidatorResult.Reject;
    if (this.fs.dag.has(e.idHex) || this.fs.dag.parked.has(e.idHex)) return TopicValidatorResult.Ignore;
    if (!verifyEntry(e)) return TopicValidatorResult.Reject;
    const depsPresent = e.deps.every((d) => this.fs.dag.has(toHex(d)));
    if (chunks.length) {
      if (e.kind !== Kind.WRITE) return TopicValidatorResult.Reject;
      // Store inline content first (so a reader never sees the file without its content),
      // but only for an entry that applies now with authority: content of an entry that parks
      // is fetched once it applies (handleEntries), so a stranger's orphans store nothing.
      const may = depsPresent && this.fs.state.canWrite(e.author, e.path).ok;
      if (may) {
        try {
          for (const c of chunks) await this.fs.content.putChunk(c.data, toHex(c.hash), { sync: false });
        } catch {
          return TopicValidatorResult.Reject; // a chunk does not match its hash
        }
      }
    }
    // The chunks' fsync runs alongside the log's: if we crash in between, the entry may be
    // durable without its content, which then reads as missing and is fetched again.
    const flushing = chunks.length ? this.fs.content.flush().catch(() => {}) : null;
    this.gossipIds.add(e.idHex);
    let rep;
    try {
      rep = await this.fs.ingest([e.bytes], peer);
    } finally {
      this.gossipIds.delete(e.idHex);
      if (flushing) await flushing;
    }
    if (rep.rejected.length) return TopicValidatorResult.Reject;
    if (rep.parked > 0) {
      // deps missing: fetch them from whoever sent this, now
      this.requestSync(peer);
      return TopicValidatorResult.Ignore;
    }
    if (rep.duplicates > 0 || rep.accepted.length === 0) return TopicValidatorResult.Ignore;
    if (!this.fs.state.isValid(e.idHex)) return TopicValidatorResult.Reject; // kept for audit, never re-gossiped
    if (e.kind === Kind.WRITE && this.o.fetchContent !== false) this.content.enqueue(e.root, peer);
    this.rec(peer).proven = true;
    return TopicValidatorResult.Accept;
  }

  private handleEntries(entries: Entry[]): void {
    this.index.added(entries.map((e) => e.idHex));
    // BASEFS_TRACE_APPLIED=1: one line per applied entry with the wall clock (benchmarks)
    if (TRACE_APPLIED) for (const e of entries) process.stderr.write(`{"bfsApplied":"${e.idHex}","path":${JSON.stringify(e.path)},"t":${Date.now()}}\n`);
    if (this.stopped) return;
    // Content of every newly applied WRITE, whichever way it came (gossip, sync, or released
    // from parking by another entry): otherwise a file whose entry was released by a later
    // arrival was never fetched, and retryFailed() never saw it (found by the reliability
    // partition test). enqueue() is a no-op check when the content is already here.
    if (this.o.fetchContent !== false) for (const e of entries) if (e.kind === Kind.WRITE && this.fs.state.isValid(e.idHex)) this.content.enqueue(e.root);
    const boot = entries.find((e) => e.kind === Kind.BOOTSTRAP);
    if (boot && !this.topic) this.subscribe(boot.idHex);
    if (entries.some((e) => e.path === '/.cluster' || e.target === '/.cluster')) void this.readCluster();
    if (this.o.autoConnect === false) return; // a fetch-only node (basefs get) publishes nothing
    const toPublish = entries.length <= PUBLISH_BATCH_LIMIT ? entries.filter((e) => !this.gossipIds.has(e.idHex) && e.kind !== Kind.BOOTSTRAP) : [];
    for (const e of toPublish) void this.publish(e);
  }

  private async publish(e: Entry): Promise<void> {
    if (!this.topic || this.stopped) return;
    if (!this.fs.state.isValid(e.idHex)) return; // never gossip entries invalid by authority
    let chunks: InlineChunk[] = [];
    if (e.kind === Kind.WRITE && e.size <= NET_LIMITS.maxInlineContent) chunks = await this.inlineChunks(e.root);
    let data: Uint8Array;
    try {
      data = encodeGossip({ entry: e.bytes, chunks });
    } catch {
      data = encodeGossip({ entry: e.bytes, chunks: [] });
    }
    await this.publishRaw(data);
  }

  private async inlineChunks(root: Uint8Array): Promise<InlineChunk[]> {
    try {
      const list = await this.fs.content.chunkList(root);
      const out: InlineChunk[] = [];
      let total = 0;
      for (const h of [root, ...list.map((c) => c.id)]) {
        const data = await this.fs.content.getChunk(toHex(h));
        if (!data) return [];
        total += data.length;
        if (total > NET_LIMITS.maxInlineContent || out.length >= NET_LIMITS.maxInlineChunks) return [];
        if (!out.some((c) => bytesEqual(c.hash, h))) out.push({ hash: h, data });
      }
      return out;
    } catch {
      return [];
    }
  }

  // Publishes a raw gossip message on our topic (tests use it to play a misbehaving peer).
  async publishRaw(data: Uint8Array): Promise<number> {
    if (!this.topic || this.stopped) return 0;
    try {
      const r = await this.libp2p.services.pubsub.publish(this.topic, data);
      this.counters.gossipOut++;
      this.counters.gossipBytesOut += data.length;
      return r.recipients.length;
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'publish failed');
      return 0;
    }
  }

  // ---- introspection ----

  addrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  members(): Member[] {
    const connected = new Set(this.connectedIds());
    return [...this.peers.values()]
      .filter((r) => r.member && !r.foreign)
      .map((r) => ({ peerId: r.id, addrs: [...r.addrs], connected: connected.has(r.id), lastSeen: r.lastSeen }))
      .sort((a, b) => a.peerId.localeCompare(b.peerId));
  }

  transfers(): { inTransfer: number } {
    return { inTransfer: this.content.inTransfer };
  }

  resources() {
    const c = this.counters;
    return {
      peerId: this.peerId,
      port: this.listenPort(), // the port actually bound (differs from the default with --port 0)
      addrs: this.addrs(),
      topic: this.topic,
      connections: this.libp2p.getConnections().length,
      peers: { connected: this.connectedIds().length, members: this.members().length, known: this.peers.size },
      queues: { syncRunning: this.outgoing, syncQueued: this.syncQueue.length, contentQueued: this.content.queued, contentIncomplete: this.content.incomplete, inTransfer: this.content.inTransfer, parked: this.fs.dag.parked.size },
      bytes: { in: c.gossipBytesIn + c.syncBytesIn + this.content.bytesIn, out: c.gossipBytesOut + c.syncBytesOut + c.chunkBytesOut },
      counters: { ...c, chunksIn: this.content.chunksIn, chunkBytesIn: this.content.bytesIn, contentFailures: this.content.failures },
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.fs.off('entries', this.onEntries);
    for (const t of this.timers) clearTimeout(t);
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.timers = [];
    this.content.stop();
    if (this.libp2p) {
      try {
        await Promise.race([this.libp2p.stop(), new Promise((r) => setTimeout(r, 5000).unref())]);
      } catch (e) {
        logger.debug({ err: (e as Error).message }, 'libp2p stop failed');
      }
    }
  }
}
