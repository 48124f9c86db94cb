// Control plane: the control socket is the only command channel and only its owner can use
// it; the node's only listening port is libp2p's, which does not speak the control protocol;
// private keys never appear in the log, the chunk store, node logs or what peers receive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { scanForKeys } from './lib/keys.ts';
import { Recorder } from './lib/results.ts';
import { cliOk, cliAsync, startNode, nodeAddrs, keyFile } from './lib/proc.ts';
import { tmpDir } from './lib/fsutil.ts';
import { callControl } from '../../src/node/control.ts';

const rec = new Recorder(import.meta.url);
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const isRoot = process.getuid?.() === 0;
const haveSetpriv = spawnSync('setpriv', ['--version']).status === 0;

// Connects to a Unix socket as uid 65534 and prints the errno code (or CONNECTED).
function connectAsNobody(sock: string): string {
  const d = mkdtempSync(join(tmpdir(), 'basefs-nobody-'));
  chmodSync(d, 0o755);
  const script = join(d, 'c.cjs');
  writeFileSync(script, `const s=require('net').createConnection(${JSON.stringify(sock)});s.on('connect',()=>{process.stdout.write('CONNECTED');s.write(JSON.stringify({id:1,method:'status',params:[]})+'\\n');s.on('data',d=>{process.stdout.write(' REPLY '+d);process.exit(0)});setTimeout(()=>process.exit(0),2000)});s.on('error',e=>{process.stdout.write(e.code);process.exit(0)});`, { mode: 0o644 });
  const r = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, script], { encoding: 'utf8', timeout: 20_000 });
  rmSync(d, { recursive: true, force: true });
  return (r.stdout || r.stderr).trim();
}

function listeners(pid: number): { tcp: string[]; udp: string[]; unix: string[] } {
  const grab = (flags: string) => spawnSync('ss', [flags, '-H', '-p'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(`pid=${pid},`));
  const addr = (l: string) => l.trim().split(/\s+/)[3];
  return { tcp: grab('-ltn').map(addr), udp: grab('-lun').map(addr), unix: grab('-lx').map((l) => l.trim().split(/\s+/)[4]) };
}

test('control socket: owner only; no network command port; no private key leaves its file', { timeout: 240_000, skip: !isRoot || !haveSetpriv ? 'needs root and setpriv' : false }, async (t) => {
  const home = tmpDir(t, 'basefs-rel-ctl-');
  const pub = cliOk(home, ['genkey']).split('\n')[0];
  cliOk(home, ['bootstrap', 'ctl']);
  const other = tmpDir(t, 'basefs-rel-ctl2-');
  const otherPub = cliOk(other, ['genkey']).split('\n')[0];
  const node = await startNode(t, home, 'ctl', ['--port', '0', '--no-mdns']);
  const sock = node.sock;
  const st = statSync(sock);
  const dst = statSync(dirname(sock));
  const sockMode = (st.mode & 0o777).toString(8);
  const dirMode = (dst.mode & 0o777).toString(8);
  rec.row({ section: 'control', what: 'control socket file and directory modes', cases: 1, outcome: `socket ${sockMode}, its directory ${dirMode}, owner uid ${st.uid}`, ok: sockMode === '600' && dirMode === '700' });
  assert.equal(sockMode, '600');
  assert.equal(dirMode, '700');

  // 1. As is (home 0700 from mkdtemp): uid 65534 cannot connect.
  const asIs = connectAsNobody(sock);
  // 2. Every parent directory opened up (0755), the run directory as the node made it.
  const parents: string[] = [];
  for (let d = dirname(dirname(sock)); d.startsWith(home); d = dirname(d)) parents.push(d);
  for (const d of parents) chmodSync(d, 0o755);
  const runDirOnly = connectAsNobody(sock);
  // 3. Even the run directory opened (0711): the socket's own 0600 must refuse.
  chmodSync(dirname(sock), 0o711);
  const sockOnly = connectAsNobody(sock);
  chmodSync(dirname(sock), 0o700);
  // The CLI as another user: one clear line.
  chmodSync(dirname(sock), 0o711);
  // ...with a key of its own (it cannot read the owner's), as a second local user would.
  const nobodyDir = mkdtempSync(join(tmpdir(), 'basefs-nobodykey-'));
  chmodSync(nobodyDir, 0o777);
  const nobodyEnv: NodeJS.ProcessEnv = { ...process.env, HOME: '/nonexistent', NODE_COMPILE_CACHE: '' };
  delete nobodyEnv.BASEFS_KEY;
  const mainTs = join(process.cwd(), 'src/cli/main.ts');
  spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, '--no-warnings', mainTs, 'genkey', join(nobodyDir, 'k')], { encoding: 'utf8', timeout: 60_000, env: nobodyEnv });
  const asCli = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, '--no-warnings', mainTs, '--data-dir', home, '--key', join(nobodyDir, 'k'), 'status', 'ctl'], { encoding: 'utf8', timeout: 60_000, env: nobodyEnv });
  const asCliGrant = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, '--no-warnings', mainTs, '--data-dir', home, '--key', join(nobodyDir, 'k'), 'grant', otherPub, 'ctl:/'], { encoding: 'utf8', timeout: 60_000, env: nobodyEnv });
  rmSync(nobodyDir, { recursive: true, force: true });
  chmodSync(dirname(sock), 0o700);
  for (const d of parents) chmodSync(d, 0o700);
  rec.row({ section: 'control', what: 'uid 65534 connects to the control socket (setpriv), home directory as created (0700)', cases: 1, outcome: asIs, ok: asIs === 'EACCES' });
  rec.row({ section: 'control', what: 'uid 65534 connects, all parents opened to 0755 (only the 0700 run directory protects)', cases: 1, outcome: runDirOnly, ok: runDirOnly === 'EACCES' });
  rec.row({ section: 'control', what: 'uid 65534 connects, run directory opened to 0711 (only the socket\'s own 0600 protects)', cases: 1, outcome: sockOnly, ok: sockOnly === 'EACCES' });
  const cliLine = asCli.stderr.trim();
  const tidy = (m: string) => m.trim().replace(/\/tmp\/\S+/g, '…');
  rec.row({ section: 'control', what: '`basefs status` and `basefs grant` run as uid 65534 (own key) against the node, socket and parent directories opened as above', cases: 2, outcome: `status: exit ${asCli.status}: "${tidy(cliLine)}"; grant: exit ${asCliGrant.status}: "${tidy(asCliGrant.stderr)}"`, ok: asCli.status !== 0 && asCliGrant.status !== 0 });
  assert.notEqual(asCliGrant.status, 0);
  assert.equal(asIs, 'EACCES');
  assert.equal(runDirOnly, 'EACCES');
  assert.equal(sockOnly, 'EACCES');
  assert.notEqual(asCli.status, 0);
  assert.equal(cliLine.split('\n').length, 1, `one line: ${cliLine}`);

  // Listening sockets of the node: only libp2p's TCP port (no command port, no UDP with mDNS off).
  const addrs = await nodeAddrs(sock);
  const port = Number(/\/tcp\/(\d+)/.exec(addrs[0] ?? '')?.[1]);
  assert.ok(port > 0, `node address: ${addrs.join(' ')}`);
  const l = listeners(node.pid);
  const tcpPorts = [...new Set(l.tcp.map((a) => Number(a.slice(a.lastIndexOf(':') + 1))))];
  rec.row({ section: 'control', what: 'listening sockets of a running node (`ss -ltnup -lx`, --no-mdns)', cases: 1, outcome: `TCP ${l.tcp.join(', ') || 'none'} (the libp2p port); UDP ${l.udp.join(', ') || 'none'}; Unix ${l.unix.map((u) => (u === sock ? 'the control socket' : u)).join(', ')}`, ok: tcpPorts.length === 1 && tcpPorts[0] === port && l.udp.length === 0 });
  assert.deepEqual(tcpPorts, [port], `only the libp2p port listens: ${l.tcp.join(', ')}`);
  assert.equal(l.udp.length, 0);
  assert.ok(l.unix.every((u) => u === sock), `only the control socket: ${l.unix.join(', ')}`);

  // Speak the control protocol (and BaseFS's plain-text command) to the libp2p port.
  const before = ((await callControl(sock, 'status', [])) as { entries: number }).entries;
  const answers: string[] = [];
  for (const payload of [JSON.stringify({ id: 1, method: 'grant', params: [otherPub, '/'] }) + '\n', `GRANT ${otherPub} /\n`]) {
    answers.push(await new Promise<string>((resolve) => {
      let got = '';
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => s.write(payload));
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      setTimeout(() => s.destroy(), 3000);
    }));
  }
  const after = ((await callControl(sock, 'status', [])) as { entries: number }).entries;
  const keys = (await callControl(sock, 'keys', [])) as { key: string }[];
  const granted = keys.some((k) => k.key === otherPub);
  rec.row({ section: 'control', what: 'GRANT sent to the libp2p port as a control-protocol JSON line and as BaseFS-style text', cases: 2, outcome: `answers: ${answers.map((a) => JSON.stringify(a.slice(0, 40))).join(', ')}; log entries ${before} -> ${after}; key granted: ${granted}`, ok: !granted && after === before && answers.every((a) => !a.includes('"result"')) });
  assert.equal(granted, false);
  assert.equal(after, before);
  for (const a of answers) assert.doesNotMatch(a, /"result"|"id"/);

  // Private key material: do real work through the node (writes, grant, revoke), then
  // search every byte the node wrote for the key in every encoding.
  cliOk(home, ['write', 'ctl:/a.txt'], 'hello');
  await callControl(sock, 'write', ['/big.bin', { base64: Buffer.alloc(300_000, 3).toString('base64') }]);
  await callControl(sock, 'mkdir', ['/etc']);
  await callControl(sock, 'grant', [otherPub, '/etc']);
  await callControl(sock, 'revoke', [otherPub, '/etc']);
  // Handing a private key where a public key belongs is refused, and nothing is logged.
  const pem = readFileSync(keyFile(home), 'utf8');
  const otherPem = readFileSync(keyFile(other), 'utf8');
  const [refused, refusedPlain] = await Promise.all([cliAsync(home, ['grant', '--', otherPem, 'ctl:/etc']), cliAsync(home, ['grant', otherPem, 'ctl:/etc'])]);
  const echoed = (refused.stderr + refusedPlain.stderr).includes(otherPem.split('\n')[1]);
  rec.row({ section: 'control', what: '`basefs grant` given a PEM private key instead of a public key (as `grant -- "$(cat key)" fs:/p` and without `--`)', cases: 2, outcome: `with --: exit ${refused.code}: "${refused.stderr.trim()}"; without: exit ${refusedPlain.code}, ${refusedPlain.stderr.trim().split('\n').length} lines${echoed ? '; the error message ECHOES THE PRIVATE KEY to stderr' : ''}`, ok: refused.code !== 0 && refusedPlain.code !== 0, note: echoed ? 'private key echoed in an error message, see findings' : undefined });
  assert.notEqual(refused.code, 0);
  assert.notEqual(refusedPlain.code, 0);
  await node.kill('SIGTERM');
  const leaks = scanForKeys(home, [pem, otherPem], [keyFile(home)]);
  const leaks2 = scanForKeys(other, [pem], [keyFile(other)]);
  rec.row({ section: 'control', what: 'search of the data directory (log store, chunk store, node.json, node.log, control dir) for both private keys as raw seed, hex, base64, PKCS#8 DER and PEM', cases: 1, outcome: leaks.length ? `FOUND in ${leaks.join(', ')}` : `not found in ${countFiles(home) - 1} files`, ok: leaks.length === 0 && leaks2.length === 0 });
  assert.deepEqual(leaks, []);
  assert.deepEqual(leaks2, []);
  void pub;
});

function countFiles(dir: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else n++;
    }
  };
  walk(dir);
  return n;
}
