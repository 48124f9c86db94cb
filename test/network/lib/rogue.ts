// A misbehaving peer for the namespace tests. Joins the cluster with its own, unauthorized
// key and publishes: an unauthorized WRITE (valid signature, inline content), an unauthorized
// GRANT, an entry whose signature is forged to look like the root key's, garbage, an entry of
// another filesystem and an oversized message. The unauthorized ones also go into its own
// log so that anti-entropy offers them too. Prints "ROGUE DONE {json}" and stays up until
// SIGTERM.
//   node rogue.ts HOME NAME JOIN_ADDR
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../../src/crypto/keys.ts';
import { sha256 } from '../../../src/crypto/hash.ts';
import { Filesystem } from '../../../src/node/filesystem.ts';
import { Kind } from '../../../src/log/entry.ts';
import { createEntry } from '../../../src/log/sign.ts';
import { startNetwork } from '../../../src/network/node.ts';
import { encodeGossip } from '../../../src/network/messages.ts';
import { stayUp } from './stayup.ts';

const [home, name, join] = process.argv.slice(2);
const fs = await Filesystem.open(home, name, null, { allowEmpty: false });
const net = await startNetwork(fs, { port: 0, host: '0.0.0.0', join: [join], mdns: true, home, fetchContent: false });
const deadline = Date.now() + 30_000;
while (net.members().filter((m) => m.connected).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
// wait until gossipsub knows peers subscribed to the topic (or publishing reaches nobody)
while (net.topic && net.libp2p.services.pubsub.getSubscribers(net.topic).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
await new Promise((r) => setTimeout(r, 500));

const evil = generateKeyPair();
const fsId = fs.fsId;
const heads = fs.dag.headIds();
const content = Buffer.from('evil content\n');
const ref = await fs.content.writeBuffer(content);
const listBytes = (await fs.content.getChunk(Buffer.from(ref.root).toString('hex')))!;
const dataHash = sha256(content);
const write = createEntry(evil, { kind: Kind.WRITE, path: '/evil.txt', fsId, deps: heads, root: ref.root, size: ref.size, mode: 0o644, mtime: Date.now() });
const grant = createEntry(evil, { kind: Kind.GRANT, path: '/', fsId, deps: heads, key: evil.publicKey });
const bootAuthor = fs.dag.get(fs.dag.fsIdHex)!.entry.author;
// looks like the root key wrote it, but the signature is made up
const realish = createEntry(evil, { kind: Kind.WRITE, path: '/forged.txt', fsId, deps: heads, root: ref.root, size: ref.size, mode: 0o644, mtime: Date.now() });
const forgedBytes = new Uint8Array(realish.bytes);
forgedBytes.set(bootAuthor, findAuthor(realish.bytes, realish.author));
forgedBytes.set(randomBytes(64), forgedBytes.length - 64);
const otherFs = createEntry(evil, { kind: Kind.MKDIR, path: '/otherfs', fsId: sha256(Buffer.from('another filesystem')), deps: heads, mode: 0o755 });

function findAuthor(bytes: Uint8Array, author: Uint8Array): number {
  for (let i = 0; i + 32 <= bytes.length; i++) if (Buffer.compare(bytes.subarray(i, i + 32), author) === 0) return i;
  return 36;
}

const inline = [{ hash: ref.root, data: listBytes }, { hash: dataHash, data: new Uint8Array(content) }];
const sent: Record<string, number> = {};
sent.unauthorizedWrite = await net.publishRaw(encodeGossip({ entry: write.bytes, chunks: inline }));
sent.unauthorizedGrant = await net.publishRaw(encodeGossip({ entry: grant.bytes, chunks: [] }));
sent.forgedSignature = await net.publishRaw(encodeGossip({ entry: forgedBytes, chunks: inline }));
sent.garbage = await net.publishRaw(new Uint8Array(randomBytes(500)));
sent.otherFilesystem = await net.publishRaw(encodeGossip({ entry: otherFs.bytes, chunks: [] }));
sent.badInlineChunk = await net.publishRaw(encodeGossip({ entry: createEntry(evil, { kind: Kind.WRITE, path: '/evil2.txt', fsId, deps: heads, root: ref.root, size: ref.size, mode: 0o644, mtime: 1 }).bytes, chunks: [{ hash: dataHash, data: new Uint8Array(randomBytes(20)) }] }));
// keep the validly signed (but unauthorized) ones in our log so that sync offers them too: the
// attacker's own node switches its admission rule off (honest nodes refuse them)
fs.dag.policy = null;
const rep = await fs.ingest([write.bytes, grant.bytes]);
process.stdout.write(`ROGUE DONE ${JSON.stringify({ sent, ingested: rep.accepted.length, write: write.idHex, grant: grant.idHex })}\n`);

stayUp(net, fs);
