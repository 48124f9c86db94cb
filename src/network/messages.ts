import { LIMITS as LOG_LIMITS } from '../log/entry.ts';
import { ProtocolError, WireReader, WireWriter } from './wire.ts';

// Every limit the network layer enforces on input from peers (documented in docs/NETWORK.md).
export const NET_LIMITS = {
  maxGossipBytes: 96 * 1024, // one gossip message: entry + inline content
  maxInlineContent: 64 * 1024, // content at most this big rides along with its WRITE entry
  maxInlineChunks: 64,
  // Gossip each peer may send us (token buckets; see node.ts validate): past it, messages are
  // ignored unread and the entries come by anti-entropy instead.
  gossipMsgsPerSec: 200,
  gossipBurstMsgs: 2000,
  gossipBytesPerSec: 1024 * 1024,
  gossipBurstBytes: 8 * 1024 * 1024,
  maxFrameBytes: 4 * 1024 * 1024, // one framed message on a stream
  entriesFrameBytes: 256 * 1024, // a sender packs ENTRIES frames up to about this size
  entriesWindow: 4, // ENTRIES frames a sender may have unacknowledged (flow control)
  ackEvery: 2, // a receiver acknowledges every this many ENTRIES frames, once ingested
  maxEntriesPerFrame: 8192,
  maxHeads: 1024, // heads in HELLO and in one HEADPAGE
  maxHeadsTotal: 65_536, // heads a puller collects (by pages) in one session
  maxRefusedPerSession: 256, // a pull stops once this many entries were refused and they outnumber the accepted
  syncSessionMs: 300_000, // a whole anti-entropy pull (`get` sets its own)
  frameMinMs: 15_000, // a started frame must be finished within max(this, its size at frameMinRate)
  frameMinRate: 32 * 1024, // bytes per second
  syncMinRate: 1024, // bytes per second, averaged over a sync session after its first 30 s
  maxWant: 1024, // ids asked for in one WANT
  maxHave: 4096, // ids offered as known in one WANT
  maxWantRounds: 64, // WANT rounds in one sync session
  maxChunkBytes: 16 * 1024 * 1024, // one chunk: data (the chunker cuts at most 256 KiB) or a chunk list (36 B per chunk)
  maxChunksPerRequest: 256,
  maxNameBytes: 255,
  maxErrorBytes: 1024,
};

export const GOSSIP_VERSION = 1;
export const SYNC_VERSION = 2; // 2: HELLO carries the head count, HEADS/HEADPAGE page the rest

export function topicFor(fsIdHex: string): string {
  return `/basefs/1/${fsIdHex}`;
}

export const SYNC_PROTOCOL = '/basefs/sync/1';
export const CHUNKS_PROTOCOL = '/basefs/chunks/1';

// ---- gossip ----

export interface InlineChunk {
  hash: Uint8Array;
  data: Uint8Array;
}

export interface GossipMessage {
  entry: Uint8Array; // the entry's bytes (verified by Filesystem.ingest)
  chunks: InlineChunk[]; // all chunks of a small WRITE's content, or none
}

// u8 version | bytes entry | uint n | n * (32B hash | bytes data)
export function encodeGossip(m: GossipMessage): Uint8Array {
  const w = new WireWriter(m.entry.length + 64 + m.chunks.reduce((s, c) => s + c.data.length + 40, 0));
  w.u8(GOSSIP_VERSION).bytes(m.entry).uint(m.chunks.length);
  for (const c of m.chunks) w.raw(c.hash).bytes(c.data);
  const out = w.done();
  if (out.length > NET_LIMITS.maxGossipBytes) throw new RangeError(`gossip message of ${out.length} bytes exceeds ${NET_LIMITS.maxGossipBytes}`);
  return out;
}

export function decodeGossip(b: Uint8Array): GossipMessage {
  if (b.length > NET_LIMITS.maxGossipBytes) throw new ProtocolError(`gossip message of ${b.length} bytes exceeds ${NET_LIMITS.maxGossipBytes}`);
  const r = new WireReader(b);
  const v = r.u8();
  if (v !== GOSSIP_VERSION) throw new ProtocolError(`unknown gossip version ${v}`);
  const entry = r.bytes(LOG_LIMITS.maxEntryBytes);
  const n = r.uint(NET_LIMITS.maxInlineChunks);
  const chunks: InlineChunk[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const hash = r.raw(32);
    const data = r.bytes(NET_LIMITS.maxInlineContent);
    total += data.length;
    if (total > NET_LIMITS.maxInlineContent) throw new ProtocolError('inline content exceeds the limit');
    chunks.push({ hash, data });
  }
  r.end();
  return { entry, chunks };
}

// The entry bytes of a gossip message without decoding the rest (for message ids).
export function gossipEntryBytes(b: Uint8Array): Uint8Array | null {
  try {
    const r = new WireReader(b);
    if (r.u8() !== GOSSIP_VERSION) return null;
    return r.bytes(LOG_LIMITS.maxEntryBytes);
  } catch {
    return null;
  }
}

// ---- sync and chunk streams: one message per frame ----

export type SyncMessage =
  | { t: 'hello'; version: number; fsId: Uint8Array; name: string; heads: Uint8Array[]; entries: number; headCount: number }
  | { t: 'heads'; offset: number }
  | { t: 'headpage'; heads: Uint8Array[] }
  | { t: 'want'; want: Uint8Array[]; have: Uint8Array[] }
  | { t: 'count'; entries: number; bytes: number }
  | { t: 'entries'; entries: Uint8Array[] }
  | { t: 'end'; sent: number }
  | { t: 'done' }
  | { t: 'error'; message: string }
  | { t: 'getchunks'; hashes: Uint8Array[] }
  | { t: 'chunk'; hash: Uint8Array; data: Uint8Array }
  | { t: 'chunksend'; missing: Uint8Array[] }
  | { t: 'ack'; frames: number };

const TYPE = { hello: 1, want: 2, count: 3, entries: 4, end: 5, done: 6, error: 7, getchunks: 8, chunk: 9, chunksend: 10, ack: 11, heads: 12, headpage: 13 } as const;

export function encodeMessage(m: SyncMessage): Uint8Array {
  const w = new WireWriter(64);
  w.u8(TYPE[m.t]);
  switch (m.t) {
    case 'hello':
      w.uint(m.version).bytes(m.fsId).str(m.name).ids(m.heads).uint(m.entries).uint(m.headCount);
      break;
    case 'heads':
      w.uint(m.offset);
      break;
    case 'headpage':
      w.ids(m.heads);
      break;
    case 'want':
      w.ids(m.want).ids(m.have);
      break;
    case 'count':
      w.uint(m.entries).uint(m.bytes);
      break;
    case 'entries':
      w.uint(m.entries.length);
      for (const e of m.entries) w.bytes(e);
      break;
    case 'end':
      w.uint(m.sent);
      break;
    case 'done':
      break;
    case 'error':
      w.str(m.message.slice(0, 500));
      break;
    case 'getchunks':
      w.ids(m.hashes);
      break;
    case 'chunk':
      w.raw(m.hash).bytes(m.data);
      break;
    case 'chunksend':
      w.ids(m.missing);
      break;
    case 'ack':
      w.uint(m.frames);
      break;
  }
  return w.done();
}

export function decodeMessage(b: Uint8Array): SyncMessage {
  const r = new WireReader(b);
  const t = r.u8();
  let m: SyncMessage;
  switch (t) {
    case TYPE.hello: {
      const version = r.uint();
      const fsId = new Uint8Array(r.bytes(32));
      if (fsId.length !== 0 && fsId.length !== 32) throw new ProtocolError('bad filesystem id');
      const name = r.str(NET_LIMITS.maxNameBytes);
      const heads = r.ids(NET_LIMITS.maxHeads);
      const entries = r.uint();
      // version 1 had no head count: decode it anyway, so the caller can name the version
      const headCount = r.pos < r.buf.length ? r.uint() : heads.length;
      m = { t: 'hello', version, fsId, name, heads, entries, headCount };
      break;
    }
    case TYPE.heads:
      m = { t: 'heads', offset: r.uint() };
      break;
    case TYPE.headpage:
      m = { t: 'headpage', heads: r.ids(NET_LIMITS.maxHeads) };
      break;
    case TYPE.want:
      m = { t: 'want', want: r.ids(NET_LIMITS.maxWant), have: r.ids(NET_LIMITS.maxHave) };
      break;
    case TYPE.count:
      m = { t: 'count', entries: r.uint(), bytes: r.uint() };
      break;
    case TYPE.entries: {
      const n = r.uint(NET_LIMITS.maxEntriesPerFrame);
      const entries: Uint8Array[] = [];
      for (let i = 0; i < n; i++) entries.push(r.bytes(LOG_LIMITS.maxEntryBytes));
      m = { t: 'entries', entries };
      break;
    }
    case TYPE.end:
      m = { t: 'end', sent: r.uint() };
      break;
    case TYPE.done:
      m = { t: 'done' };
      break;
    case TYPE.error:
      m = { t: 'error', message: r.str(NET_LIMITS.maxErrorBytes) };
      break;
    case TYPE.getchunks:
      m = { t: 'getchunks', hashes: r.ids(NET_LIMITS.maxChunksPerRequest) };
      break;
    case TYPE.chunk:
      m = { t: 'chunk', hash: new Uint8Array(r.raw(32)), data: r.bytes(NET_LIMITS.maxChunkBytes) };
      break;
    case TYPE.chunksend:
      m = { t: 'chunksend', missing: r.ids(NET_LIMITS.maxChunksPerRequest) };
      break;
    case TYPE.ack:
      m = { t: 'ack', frames: r.uint(1 << 20) };
      break;
    default:
      throw new ProtocolError(`unknown message type ${t}`);
  }
  r.end();
  return m;
}
