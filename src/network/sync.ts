import { toHex, fromHex, bytesEqual } from '../crypto/hash.ts';
import type { Filesystem } from '../node/filesystem.ts';
import { UserError } from '../errors/errors.ts';
import { FramedStream } from './frame.ts';
import { decodeMessage, encodeMessage, NET_LIMITS, SYNC_VERSION, type SyncMessage } from './messages.ts';
import { computeDiff, type ArrivalIndex } from './reconcile.ts';
import { ProtocolError } from './wire.ts';

// Anti-entropy session on one stream (protocol /basefs/sync/1). The initiator pulls:
//   I -> R  HELLO {fsId, name, heads, entry count}
//   R -> I  HELLO {fsId, name, heads, entry count, head count}   (or ERROR, e.g. another filesystem)
//   I -> R  HEADS {offset}, R -> I HEADPAGE {heads}      (while R has more heads than one HELLO holds)
//   I -> R  WANT {R's heads I lack + deps I wait for, my heads + samples}   (0..n rounds)
//   R -> I  COUNT {entries, bytes}, ENTRIES*, END    (I -> R ACK every 2 ENTRIES ingested;
//                                                     R keeps at most 4 unacknowledged)
//   I -> R  DONE
// The responder learns the initiator's heads from HELLO and starts its own pull when it
// lacks some, so one exchange in each direction reconciles both logs.

export interface PullProgress {
  received: number;
  expected: number; // entries announced so far
  bytes: number;
}

export interface PullResult {
  peerName: string;
  peerFsId: string;
  peerEntries: number;
  peerHeads: string[];
  received: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  rejectReasons: string[];
  parked: number;
  rounds: number;
  bytesIn: number;
  bytesOut: number;
  complete: boolean; // we now hold every head the peer announced (all of them were listed)
  incomplete: string; // why not, when not complete
}

export class NameMismatchError extends UserError {}

async function expect(fsm: FramedStream): Promise<SyncMessage> {
  const f = await fsm.read();
  if (!f) throw new ProtocolError('peer closed the stream');
  const m = decodeMessage(f);
  if (m.t === 'error') throw new ProtocolError(`peer: ${m.message}`);
  return m;
}

// Sorted, so that pages asked for one after another line up.
function sortedHeads(fs: Filesystem): string[] {
  return [...fs.dag.heads].sort();
}

function hello(fs: Filesystem): SyncMessage {
  const all = sortedHeads(fs);
  const heads = all.slice(0, NET_LIMITS.maxHeads).map(fromHex);
  return { t: 'hello', version: SYNC_VERSION, fsId: fs.dag.fsId ?? new Uint8Array(0), name: fs.dag.fsId ? bootName(fs) : fs.name, heads, entries: fs.dag.size, headCount: all.length };
}

// The rest of the peer's heads, page by page, up to NET_LIMITS.maxHeadsTotal.
async function moreHeads(fsm: FramedStream, heads: string[], count: number): Promise<boolean> {
  const max = NET_LIMITS.maxHeadsTotal;
  while (heads.length < Math.min(count, max)) {
    await fsm.write(encodeMessage({ t: 'heads', offset: heads.length }));
    const m = await expect(fsm);
    if (m.t !== 'headpage') throw new ProtocolError(`expected HEADPAGE, got ${m.t}`);
    if (m.heads.length === 0) return false; // the peer's heads changed meanwhile: the next sync sees them
    for (const h of m.heads) heads.push(toHex(h));
  }
  if (heads.length > max) heads.length = max;
  return count <= max;
}

function bootName(fs: Filesystem): string {
  const b = fs.dag.get(fs.dag.fsIdHex);
  return b ? b.entry.name : fs.name;
}

// `get --id`: the peer serves another filesystem than the one pinned.
export class FsIdMismatchError extends UserError {}

export interface PullOptions {
  index: ArrivalIndex;
  expectName?: string; // when our log is empty: refuse a peer serving another name
  expectFsId?: string; // when our log is empty: refuse a peer serving another filesystem id (hex)
  onProgress?: (p: PullProgress) => void;
  onHello?: (peerHeads: string[]) => void;
  source?: string; // the peer pulled from (its share of the parking space)
}

export async function pullSession(fs: Filesystem, fsm: FramedStream, o: PullOptions): Promise<PullResult> {
  await fsm.write(encodeMessage(hello(fs)));
  const h = await expect(fsm);
  if (h.t !== 'hello') throw new ProtocolError(`expected HELLO, got ${h.t}`);
  if (h.version !== SYNC_VERSION) throw new ProtocolError(`peer speaks sync version ${h.version}, we speak ${SYNC_VERSION}`);
  const res: PullResult = { peerName: h.name, peerFsId: toHex(h.fsId), peerEntries: h.entries, peerHeads: h.heads.map(toHex), received: 0, accepted: 0, duplicates: 0, rejected: 0, rejectReasons: [], parked: 0, rounds: 0, bytesIn: 0, bytesOut: 0, complete: false, incomplete: '' };
  if (h.fsId.length === 0) {
    // The peer has no log yet (e.g. another node in the middle of `get`).
    res.complete = true;
    await fsm.write(encodeMessage({ t: 'done' }));
    await fsm.close();
    return fin(res, fsm);
  }
  if (fs.dag.fsId && !bytesEqual(fs.dag.fsId, h.fsId)) throw new ProtocolError(`peer serves another filesystem (${res.peerFsId.slice(0, 16)}), not ours (${fs.dag.fsIdHex.slice(0, 16)})`);
  if (!fs.dag.fsId && o.expectName !== undefined && h.name !== o.expectName) {
    await fsm.write(encodeMessage({ t: 'done' })).catch(() => {});
    await fsm.close();
    throw new NameMismatchError(`the peer serves filesystem "${h.name}" (id ${res.peerFsId.slice(0, 16)}), not "${o.expectName}"; to fetch it run: basefs get ${h.name} ADDR`);
  }
  if (!fs.dag.fsId && o.expectFsId !== undefined && res.peerFsId !== o.expectFsId) {
    await fsm.write(encodeMessage({ t: 'done' })).catch(() => {});
    await fsm.close();
    throw new FsIdMismatchError(`the peer serves a filesystem "${h.name}" with id ${res.peerFsId}, not the id you pinned (${o.expectFsId}); nothing was fetched. Check the id with basefs status ${h.name} on a machine you trust`);
  }
  const listed = await moreHeads(fsm, res.peerHeads, h.headCount);
  o.onHello?.(res.peerHeads);
  let expected = 0;
  let bytes = 0;
  let lastMissing = -1;
  for (;;) {
    const want = res.peerHeads.filter((x) => !fs.dag.has(x));
    for (const m of fs.dag.missingDeps()) {
      if (want.length >= NET_LIMITS.maxWant) break;
      if (!want.includes(m)) want.push(m);
    }
    if (want.length === 0 || res.rounds >= NET_LIMITS.maxWantRounds) break;
    // Stop when a round brought nothing new (the peer cannot give what we wait for).
    if (res.rounds > 0 && want.length === lastMissing && res.accepted === 0 && res.parked === 0) break;
    lastMissing = want.length;
    res.rounds++;
    const have = o.index.summary().slice(0, NET_LIMITS.maxHave).map(fromHex);
    await fsm.write(encodeMessage({ t: 'want', want: want.slice(0, NET_LIMITS.maxWant).map(fromHex), have }));
    const c = await expect(fsm);
    if (c.t !== 'count') throw new ProtocolError(`expected COUNT, got ${c.t}`);
    expected += c.entries;
    const before = res.accepted + res.parked;
    let frames = 0;
    let roundEntries = 0;
    let roundBytes = 0;
    for (;;) {
      const m = await expect(fsm);
      if (m.t === 'end') break;
      if (m.t !== 'entries') throw new ProtocolError(`expected ENTRIES, got ${m.t}`);
      res.received += m.entries.length;
      roundEntries += m.entries.length;
      for (const e of m.entries) roundBytes += e.length;
      bytes += m.entries.reduce((n, e) => n + e.length, 0);
      // A round carries what COUNT announced, no more: a responder cannot stream without end.
      if (roundEntries > c.entries || roundBytes > c.bytes) throw new ProtocolError(`peer sent more than it announced (${roundEntries} entries / ${roundBytes} bytes; announced ${c.entries} / ${c.bytes})`);
      const rep = await fs.ingest(m.entries, o.source ?? '');
      // flow control: the sender keeps at most NET_LIMITS.entriesWindow frames in flight
      if (++frames % NET_LIMITS.ackEvery === 0) await fsm.write(encodeMessage({ t: 'ack', frames: NET_LIMITS.ackEvery }));
      res.accepted += rep.accepted.length;
      res.duplicates += rep.duplicates;
      res.parked += rep.parked;
      res.rejected += rep.rejected.length;
      for (const r of rep.rejected) if (res.rejectReasons.length < 10) res.rejectReasons.push(r.reason);
      o.onProgress?.({ received: res.received, expected, bytes });
      if (res.rejected >= NET_LIMITS.maxRefusedPerSession && res.rejected > res.accepted) throw new ProtocolError(`peer sent ${res.rejected} entries that were refused (${res.rejectReasons[0]}); giving up on it`);
    }
    if (res.accepted + res.parked === before) break;
  }
  const lacking = res.peerHeads.filter((x) => !fs.dag.has(x)).length;
  res.complete = listed && lacking === 0;
  if (!listed) res.incomplete = `the peer has ${h.headCount} heads; ${res.peerHeads.length} were listed`;
  else if (lacking) res.incomplete = `${lacking} of the peer's ${res.peerHeads.length} heads are still missing here${res.rejected ? ` (${res.rejected} entries refused: ${res.rejectReasons[0]})` : ''}`;
  await fsm.write(encodeMessage({ t: 'done' }));
  await fsm.close();
  return fin(res, fsm);
}

function fin(res: PullResult, fsm: FramedStream): PullResult {
  res.bytesIn = fsm.bytesIn;
  res.bytesOut = fsm.bytesOut;
  return res;
}

export interface ServeOptions {
  index: ArrivalIndex;
  onHello?: (peerHeads: string[]) => void; // the initiator's heads (to pull back what we lack)
}

export interface ServeResult {
  sent: number;
  rounds: number;
  bytesIn: number;
  bytesOut: number;
  peerHeads: string[];
}

export async function serveSession(fs: Filesystem, fsm: FramedStream, o: ServeOptions): Promise<ServeResult> {
  const res: ServeResult = { sent: 0, rounds: 0, bytesIn: 0, bytesOut: 0, peerHeads: [] };
  const h = await expect(fsm);
  if (h.t !== 'hello') throw new ProtocolError(`expected HELLO, got ${h.t}`);
  if (h.version !== SYNC_VERSION) {
    await fsm.write(encodeMessage({ t: 'error', message: `sync version ${h.version} not supported (this node speaks ${SYNC_VERSION})` }));
    await fsm.close();
    return res;
  }
  if (fs.dag.fsId && h.fsId.length && !bytesEqual(h.fsId, fs.dag.fsId)) {
    await fsm.write(encodeMessage({ t: 'error', message: `this node serves filesystem ${fs.dag.fsIdHex} (${bootName(fs)}), not ${toHex(h.fsId)}` }));
    await fsm.close();
    return res;
  }
  await fsm.write(encodeMessage(hello(fs)));
  res.peerHeads = h.heads.map(toHex);
  if (fs.dag.fsId && h.fsId.length) o.onHello?.(res.peerHeads);
  let unacked = 0; // ENTRIES frames sent and not yet acknowledged (across rounds)
  for (;;) {
    const f = await fsm.read();
    if (!f) break;
    const m = decodeMessage(f);
    if (m.t === 'done') break;
    if (m.t === 'ack') {
      unacked = Math.max(0, unacked - m.frames); // acknowledgement of the last frames
      continue;
    }
    if (m.t === 'heads') {
      await fsm.write(encodeMessage({ t: 'headpage', heads: sortedHeads(fs).slice(m.offset, m.offset + NET_LIMITS.maxHeads).map(fromHex) }));
      continue;
    }
    if (m.t !== 'want') throw new ProtocolError(`expected WANT or DONE, got ${m.t}`);
    if (++res.rounds > NET_LIMITS.maxWantRounds) throw new ProtocolError('too many WANT rounds');
    const diff = computeDiff(fs.dag, m.want.map(toHex), m.have.map(toHex));
    const entries = diff.ids.map((id) => fs.dag.get(id)!.entry.bytes);
    let total = 0;
    for (const e of entries) total += e.length;
    await fsm.write(encodeMessage({ t: 'count', entries: entries.length, bytes: total }));
    let batch: Uint8Array[] = [];
    let size = 0;
    const send = async () => {
      while (unacked >= NET_LIMITS.entriesWindow) {
        const a = await expect(fsm);
        if (a.t !== 'ack') throw new ProtocolError(`expected ACK, got ${a.t}`);
        unacked = Math.max(0, unacked - a.frames);
      }
      await fsm.write(encodeMessage({ t: 'entries', entries: batch }));
      unacked++;
      batch = [];
      size = 0;
    };
    for (const e of entries) {
      if (batch.length && (size + e.length + 8 > NET_LIMITS.entriesFrameBytes || batch.length >= NET_LIMITS.maxEntriesPerFrame)) await send();
      batch.push(e);
      size += e.length + 3;
    }
    if (batch.length) await send();
    await fsm.write(encodeMessage({ t: 'end', sent: entries.length }));
    res.sent += entries.length;
  }
  await fsm.close();
  res.bytesIn = fsm.bytesIn;
  res.bytesOut = fsm.bytesOut;
  return res;
}
