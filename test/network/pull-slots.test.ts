// Pull slots against strangers that stall (issue 11 item 4): a node pulls from at most 4 peers
// at once, and peers that have not shown valid entries share one of those slots, so stranger
// identities that answer HELLO and then say nothing cannot hold every slot. Real libp2p nodes
// on 127.0.0.1: the victim and an honest peer are NetNodes, the strangers bare libp2p peers
// (lib/stalling-peer.ts) that count the victim's pulls open on them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { startNetwork, type NetNode } from '../../src/network/node.ts';
import { startStallingPeer, type StallingPeer } from './lib/stalling-peer.ts';

const kp = generateKeyPair();
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'bfs-slots-'));
  cleanup.push(async () => rmSync(h, { recursive: true, force: true }));
  return h;
}

// Polls fn every 20 ms until it holds; `sample` runs on every poll (to record a maximum).
async function until(what: string, fn: () => boolean, ms: number, sample: () => void = () => {}): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    sample();
    if (fn()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// No periodic anti-entropy: every pull here is one the test caused (on connect, or a HELLO
// naming heads the victim lacks).
const NO_PERIODIC_SYNC = 3_600_000;
const STRANGERS = 4; // as many as there are pull slots: without the shared slot they take all

test('peers that have not shown valid entries share one pull slot; a proven peer still gets pulled from', { timeout: 180_000 }, async () => {
  const hv = home();
  const fsV = await Filesystem.create(hv, 'slotfs', kp, []);
  cleanup.push(() => fsV.close());
  await fsV.mkdir('/start');
  const victim: NetNode = await startNetwork(fsV, { port: 0, host: '127.0.0.1', join: [], mdns: false, home: hv, syncIntervalMs: NO_PERIODIC_SYNC });
  cleanup.push(() => victim.stop());
  const addr = victim.addrs()[0];

  // The honest peer pulls the log, writes one entry of its own and shows it to the victim:
  // its HELLO names a head the victim lacks, the victim pulls it back, and the peer is proven
  // (a complete pull that brought valid entries). It publishes no gossip (autoConnect false).
  const hh = home();
  const fsH = await Filesystem.open(hh, 'slotfs', kp, { allowEmpty: true });
  cleanup.push(() => fsH.close());
  const honest = await startNetwork(fsH, { port: 0, host: '127.0.0.1', join: [], mdns: false, home: hh, autoConnect: false });
  cleanup.push(() => honest.stop());
  await honest.syncWith(addr);
  await fsH.mkdir('/from-honest');
  await honest.syncWith(victim.peerId);
  await until('the honest entry on the victim', () => !!fsV.lookup('/from-honest'), 20_000);

  // Strangers connect; the victim pulls from each on connect, and each stalls its pull.
  const strangers: StallingPeer[] = [];
  for (let i = 0; i < STRANGERS; i++) {
    const s = await startStallingPeer(fsV.fsId, 'slotfs', addr);
    cleanup.push(() => s.stop());
    strangers.push(s);
  }
  let maxOpen = 0;
  const open = () => strangers.reduce((n, s) => n + s.open(), 0);
  const sample = () => { maxOpen = Math.max(maxOpen, open()); };
  // every stranger's pull is either running on it or waiting in the victim's queue
  await until('every stranger to be pulled from or queued', () => open() + victim.resources().queues.syncQueued >= STRANGERS, 30_000, sample);
  assert.equal(open(), 1, `strangers holding a pull slot at once: ${open()} (queued: ${victim.resources().queues.syncQueued})`);

  // While a stranger holds the shared slot, a new entry of the proven peer is still pulled.
  await fsH.mkdir('/while-strangers-stall');
  await honest.syncWith(victim.peerId);
  await until('the honest entry written during the stall on the victim', () => !!fsV.lookup('/while-strangers-stall'), 20_000, sample);
  assert.ok(strangers.some((s) => s.open() === 1), 'a stranger still holds the shared slot (the honest pull did not wait for it)');
  assert.equal(maxOpen, 1, `at most one stranger pull ran at any moment (seen: ${maxOpen})`);
});

// A pull from a peer whose log is empty (or that lists only heads we hold) ends complete with
// nothing at all: that must not prove the peer, or a stranger that first looks empty then holds
// a full slot like an honest peer (before the fix: 4 strangers held all 4 slots).
test('a stranger cannot prove itself by showing an empty log', { timeout: 180_000 }, async () => {
  const hv = home();
  const fsV = await Filesystem.create(hv, 'slotfs2', kp, []);
  cleanup.push(() => fsV.close());
  const victim: NetNode = await startNetwork(fsV, { port: 0, host: '127.0.0.1', join: [], mdns: false, home: hv, syncIntervalMs: NO_PERIODIC_SYNC });
  cleanup.push(() => victim.stop());
  const strangers: StallingPeer[] = [];
  for (let i = 0; i < STRANGERS; i++) {
    const s = await startStallingPeer(fsV.fsId, 'slotfs2', victim.addrs()[0], { firstEmpty: true });
    cleanup.push(() => s.stop());
    strangers.push(s);
  }
  await until('every stranger\'s first (empty) pull', () => strangers.every((s) => s.served() >= 1) && victim.resources().queues.syncRunning === 0, 30_000);
  for (const s of strangers) await s.nudge();
  const open = () => strangers.reduce((n, s) => n + s.open(), 0);
  await until('the victim to pull from every stranger again or queue it', () => open() + victim.resources().queues.syncQueued >= STRANGERS, 30_000);
  assert.equal(open(), 1, `strangers holding a pull slot at once: ${open()}`);
});
