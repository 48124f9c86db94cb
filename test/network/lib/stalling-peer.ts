// A stranger that holds pull slots: a bare libp2p peer (no log, no grant) whose sync responder
// answers the victim's HELLO with a head the victim lacks, then says nothing more, so the
// victim's pull waits until its stream timeout. It counts the victim's pulls that are open on
// it right now, as the peer sees them (from the victim's HELLO until the stream ends).
// With `firstEmpty` it answers the first pull as a node with an empty log would (which ends
// that pull complete at once), and stalls only the later ones; `nudge()` makes the victim pull
// again by offering it a HELLO that names a head it lacks.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { randomBytes } from 'node:crypto';
import { FramedStream } from '../../../src/network/frame.ts';
import { decodeMessage, encodeMessage, NET_LIMITS, SYNC_PROTOCOL, SYNC_VERSION } from '../../../src/network/messages.ts';

export interface StallingPeer {
  peerId: string;
  open: () => number; // the victim's pulls open on this peer now
  served: () => number; // the victim's pulls this peer has seen in all
  nudge: () => Promise<void>;
  stop: () => Promise<void>;
}

export async function startStallingPeer(fsId: Uint8Array, name: string, victimAddr: string, opts: { firstEmpty?: boolean } = {}): Promise<StallingPeer> {
  const lp: Libp2p = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  } as never);
  let open = 0;
  let served = 0;
  const streams = new Set<FramedStream>();
  await lp.handle(SYNC_PROTOCOL, async (stream: Stream) => {
    const f = new FramedStream(stream as never, NET_LIMITS.maxFrameBytes, 600_000);
    streams.add(f);
    let counted = false;
    try {
      const hello = await f.read();
      if (!hello || decodeMessage(hello).t !== 'hello') return;
      if (opts.firstEmpty && served === 0) {
        served++;
        await f.write(encodeMessage({ t: 'hello', version: SYNC_VERSION, fsId: new Uint8Array(0), name, heads: [], entries: 0, headCount: 0 }));
        return;
      }
      open++;
      served++;
      counted = true;
      await f.write(encodeMessage({ t: 'hello', version: SYNC_VERSION, fsId, name, heads: [new Uint8Array(randomBytes(32))], entries: 2, headCount: 1 }));
      // read the WANT and whatever follows until the victim gives up on us
      while ((await f.read()) !== null) { /* say nothing */ }
    } catch { /* the victim aborted the pull */ } finally {
      if (counted) open--;
      streams.delete(f);
    }
  }, { maxInboundStreams: 8 });
  const conn = await lp.dial(multiaddr(victimAddr), { signal: AbortSignal.timeout(15_000) });
  const nudge = async () => {
    const st = await lp.dialProtocol(conn.remotePeer, SYNC_PROTOCOL, { signal: AbortSignal.timeout(15_000) });
    const f = new FramedStream(st as never, NET_LIMITS.maxFrameBytes, 15_000);
    await f.write(encodeMessage({ t: 'hello', version: SYNC_VERSION, fsId, name, heads: [new Uint8Array(randomBytes(32))], entries: 2, headCount: 1 }));
    await f.read().catch(() => null); // the victim's HELLO: it has seen ours
    f.abort(new Error('done'));
  };
  return {
    peerId: lp.peerId.toString(),
    open: () => open,
    served: () => served,
    nudge,
    stop: async () => {
      for (const f of streams) f.abort(new Error('stopping'));
      await lp.stop();
    },
  };
}
