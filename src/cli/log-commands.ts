import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createKeyFile, loadKeyFile } from '../crypto/keyfile.ts';
import { formatPublicKey, fingerprint, parsePublicKey, seedOf } from '../crypto/keys.ts';
import { Filesystem } from '../node/filesystem.ts';
import { homeDir, defaultKeyPath, defaultPort, listNames, readSettings, checkName, controlSocketPath } from '../node/datadir.ts';
import { controlAlive } from '../node/control.ts';
import { UserError } from '../errors/errors.ts';
import { walkLocalTree } from '../node/tree.ts';
import { globals, home, keyPath, loadKey, withApi, parseTarget, isNamed, fsPath } from './context.ts';
import { out, bytes, modeString, table, esc, formatResources } from './format.ts';

function parseAddrs(s: string | undefined): string[] {
  if (!s) return [];
  return s.split(',').map((a) => a.trim()).filter(Boolean).map((a) => {
    if (a.startsWith('/')) return a;
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(a);
    if (!m) throw new UserError(`bad address "${a}": expected ip, ip:port or a multiaddr`);
    return m[2] ? `${m[1]}:${m[2]}` : m[1];
  });
}

// write -r: walks the local tree, then stores it in chunks (each one durable append), with
// progress on a terminal.
async function writeTree(g: ReturnType<typeof globals>, name: string, dest: string, local: string) {
  const w = await walkLocalTree(local);
  const tty = process.stderr.isTTY && !g.json;
  const total = { files: w.items.filter((i) => i.type === 'file').length, bytes: w.bytes };
  let done = { items: 0, files: 0, bytes: 0, entries: 0 };
  const CHUNK_ITEMS = 256;
  const CHUNK_BYTES = 64 * 2 ** 20;
  await withApi(g, name, async (api) => {
    let i = 0;
    while (i < w.items.length) {
      const chunk = [];
      let size = 0;
      while (i < w.items.length && chunk.length < CHUNK_ITEMS && (chunk.length === 0 || size < CHUNK_BYTES)) {
        const it = w.items[i++];
        chunk.push(it);
        if (it.type === 'file') size += (await import('node:fs')).statSync(it.local!).size;
      }
      const r = await api.writeTree(dest, chunk);
      done = { items: done.items + chunk.length, files: done.files + chunk.filter((c) => c.type === 'file').length, bytes: done.bytes + r.bytes, entries: done.entries + r.entries };
      if (tty) process.stderr.write(`\rcopying: ${done.files}/${total.files} files, ${bytes(done.bytes)}/${bytes(total.bytes)}   `);
    }
  });
  if (tty) process.stderr.write('\n');
  return { files: done.files, dirs: w.items.filter((c) => c.type === 'dir').length, links: w.items.filter((c) => c.type === 'symlink').length, bytes: done.bytes, entries: done.entries, skipped: w.skipped };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// A "public key" equal to the seed of a private key on this machine (the default key, the one
// given with --key) would be written into the log and spread to every node: refuse it. The
// node checks its own key too (FsApi.resolveKey).
function refuseLocalSeed(g: ReturnType<typeof globals>, key: string): void {
  let k: Uint8Array;
  try {
    k = parsePublicKey(key);
  } catch {
    return; // a fingerprint, or refused with its reason by the node
  }
  for (const p of new Set([keyPath(g), defaultKeyPath(home(g))])) {
    if (!existsSync(p)) continue;
    let kp;
    try {
      kp = loadKeyFile(p);
    } catch {
      continue;
    }
    if (Buffer.from(seedOf(kp.privateKey)).equals(k)) throw new UserError(`that is the private key (seed) of ${p}, not a public key; give its public key (ed25519:...) or fingerprint, as printed by basefs genkey`);
  }
}

export function registerLogCommands(program: Command): void {
  program
    .command('genkey [path]')
    .description('create an Ed25519 key (file mode 0600) and print its public key; default path DATA_DIR/id_ed25519')
    .option('--force', 'overwrite an existing key file (the old key is lost)')
    .action((path: string | undefined, o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const p = path ? resolve(path) : keyPath(g);
      const kp = createKeyFile(p, !!o.force);
      out(g.json, { path: p, publicKey: formatPublicKey(kp.publicKey), fingerprint: fingerprint(kp.publicKey) }, () => `${formatPublicKey(kp.publicKey)}\nfingerprint ${fingerprint(kp.publicKey)}\nprivate key written to ${esc(p)} (mode 0600)`);
    });

  program
    .command('bootstrap <name>')
    .description('create a new filesystem whose root authority is the local key; -i records bootstrap addresses in /.cluster')
    .option('-i, --ips <addrs>', 'comma-separated ip[:port] or multiaddrs of nodes to join (written to /.cluster)')
    .action(async (name: string, o: { ips?: string }, cmd: Command) => {
      const g = globals(cmd);
      checkName(name);
      const kp = loadKey(g);
      const fs = await Filesystem.create(home(g), name, kp, parseAddrs(o.ips));
      const st = fs.status();
      await fs.close();
      out(g.json, { name, fsId: st.fsId, port: defaultPort(name), root: formatPublicKey(kp.publicKey) }, () =>
        `created filesystem ${name}\n  id    ${st.fsId}\n  port  ${defaultPort(name)}\n  root  ${formatPublicKey(kp.publicKey)} (${fingerprint(kp.publicKey)})\nnext: basefs write ${name}:/hello.txt < file, basefs ls ${name}:/, basefs mount ${name} DIR`);
    });

  program
    .command('list')
    .description('local filesystems: name, id, port, mountpoint, members, size, last update')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const h = home(g);
      const rows: ({ name: string; error: string } | { name: string; fsId: string; port: number | null; mountpoint: string | null; running: boolean; members: number; entries: number; bytesStored: number; lastUpdate: string | null })[] = [];
      for (const name of listNames(h)) {
        const s = readSettings(h, name);
        const running = await controlAlive(controlSocketPath(h, name));
        try {
          const [st, res] = await withApi(g, name, async (api, remote) => [await api.status(), remote ? await api.resources() : null]);
          // Running: the port the node actually bound (null without networking) and its mount
          // (cleared when a node starts, set once mounted). Stopped: the port it will use next.
          const port = running ? (res?.node?.port ?? null) : (s.port ?? defaultPort(name));
          const mountpoint = running ? (s.mountpoint ?? null) : null;
          rows.push({ name, fsId: st.fsId, port, mountpoint, running, members: st.members.length, entries: st.entries, bytesStored: st.bytesStored, lastUpdate: st.lastUpdate ?? null });
        } catch (e) {
          rows.push({ name, error: (e as Error).message });
        }
      }
      out(g.json, rows, () => rows.length === 0 ? `no filesystems in ${h}; create one with basefs bootstrap NAME` :
        table([['NAME', 'ID', 'PORT', 'MOUNT', 'MEMBERS', 'ENTRIES', 'SIZE', 'LAST UPDATE'], ...rows.map((r) => 'error' in r ? [r.name, 'error: ' + esc(r.error)] : [r.name, r.fsId, r.port === null ? '-' : String(r.port), r.mountpoint ? esc(r.mountpoint) : (r.running ? '(running, no mount)' : '-'), String(r.members), String(r.entries), bytes(r.bytesStored), r.lastUpdate ? r.lastUpdate.replace(/\.\d+Z$/, 'Z') : '-'])]));
    });

  program
    .command('status <name>')
    .description('fsId, heads, entry count, viewDigest, members, bytes stored')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const st = await withApi(g, name, (api) => api.status());
      out(g.json, st, () => [
        `name        ${esc(st.name)}`, `fsId        ${st.fsId}`, `entries     ${st.entries}${st.parked ? ` (+${st.parked} waiting for deps)` : ''}`,
        `heads       ${st.heads.map((h: string) => h.slice(0, 16)).join(' ')}`, `viewDigest  ${st.viewDigest}`,
        `node        ${st.running ? 'running' : 'not running'}`, `members     ${st.members.length}${st.members.length ? ` (${st.members.filter((m) => m.connected).length} connected: ${st.members.map((m) => m.peerId.slice(-8) + (m.connected ? "" : " (gone)")).join(", ")})` : ""}`, `stored      ${bytes(st.bytesStored)}`, ...(st.failingHooks ?? []).map((f) => `hook        ${esc(f.name)} keeps failing: ${f.failures} runs in a row, last ${esc(f.last)} (basefs hook list ${esc(st.name)})`)].join('\n'));
    });

  program
    .command('show <target>')
    .description('the log as a tree (NAME or NAME:PATH); * marks entries in the current view, ! invalid ones')
    .action(async (target: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const rows = await withApi(g, t.name, (api) => api.show(t.path));
      out(g.json, rows, () => {
        const children = new Map<string, number>();
        for (const r of rows) for (const d of r.deps) children.set(d, (children.get(d) ?? 0) + 1);
        return rows.map((r) => {
          const mark = !r.valid ? '!' : r.inView ? '*' : ' ';
          const what = r.kind === 'RENAME' ? `${esc(r.path)} -> ${esc(r.target)}` : r.kind === 'GRANT' || r.kind === 'REVOKE' ? `${r.key} at ${esc(r.path)}` : r.name ? `${esc(r.path)} ${esc(r.name)}` : esc(r.path);
          const merge = r.deps.length > 1 ? `  (merge of ${r.deps.map((d: string) => d.slice(0, 8)).join(', ')})` : '';
          return `${mark} ${'  '.repeat(Math.min(r.height, 0))}${r.id.slice(0, 12)} h${r.height} ${r.kind.padEnd(9)} ${what}  by ${r.author}${merge}`;
        }).join('\n');
      });
    });

  program
    .command('ls <target>')
    .description('list a directory (NAME:PATH)')
    .option('-l', 'long format')
    .action(async (target: string, o: { l?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const rows = await withApi(g, t.name, (api) => api.ls(t.path));
      // owner/group: as recorded in the log ('-' when never set; a mount shows its fallback)
      out(g.json, rows, () => o.l ? table(rows.map((r) => [modeString(r.type, r.mode), esc(r.owner ?? '-'), esc(r.group ?? '-'), String(r.size), new Date(r.mtime).toISOString(), esc(r.name) + (r.type === 'dir' ? '/' : '') + (r.target ? ` -> ${esc(r.target)}` : '')])) : rows.map((r) => esc(r.name) + (r.type === 'dir' ? '/' : '')).join('\n'));
    });

  program
    .command('cat <target>')
    .description('print a file (NAME:PATH)')
    .action(async (target: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const r = await withApi(g, t.name, (api) => api.cat(t.path));
      process.stdout.write(Buffer.from(r.data, 'base64'));
    });

  program
    .command('write <target> [file]')
    .description('write a file (NAME:PATH) from FILE or standard input; with -r DIR, copy a local directory tree to NAME:PATH')
    .option('-m, --mode <octal>', 'file mode, e.g. 644')
    .option('-r, --recursive <dir>', 'copy the local directory DIR (files, subdirectories, symlinks, modes and mtimes) to NAME:PATH, which is created if missing; a few synced writes per 256 files, progress on a terminal')
    .action(async (target: string, file: string | undefined, o: { mode?: string; recursive?: string }, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      if (o.recursive !== undefined) {
        if (file || o.mode) throw new UserError('write -r DIR copies a directory: give no FILE and no --mode (modes come from the local files)');
        const r = await writeTree(g, t.name, t.path, resolve(o.recursive));
        out(g.json, r, () => `copied ${esc(o.recursive!)} to ${t.name}:${esc(t.path)}: ${r.files} files, ${r.dirs} directories, ${r.links} links, ${bytes(r.bytes)} (${r.entries} entries)${r.skipped.length ? `; skipped ${r.skipped.length} special files (${r.skipped.slice(0, 3).map(esc).join(', ')}${r.skipped.length > 3 ? ', ...' : ''})` : ''}`);
        return;
      }
      const mode = o.mode ? parseInt(o.mode, 8) : undefined;
      if (o.mode && (Number.isNaN(mode) || mode! > 0o7777)) throw new UserError(`bad mode ${o.mode}; give octal like 644`);
      if (file && !existsSync(file)) throw new UserError(`no such file: ${file}`);
      const src = file ? { file: resolve(file) } : { base64: (await readStdin()).toString('base64') };
      const r = await withApi(g, t.name, (api) => api.write(t.path, src, mode));
      out(g.json, r, () => `wrote ${t.name}:${esc(t.path)} (${bytes(r.size)}, entry ${r.id.slice(0, 12)})`);
    });

  program
    .command('mkdir <target>')
    .description('create a directory (NAME:PATH)')
    .option('-p, --parents', 'create missing parents, no error if it exists')
    .action(async (target: string, o: { parents?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const r = await withApi(g, t.name, (api) => api.mkdir(t.path, !!o.parents));
      out(g.json, r, () => '');
    });

  program
    .command('rm <target>')
    .description('remove a file, symlink or (with -r) a directory (NAME:PATH); history keeps it')
    .option('-r, --recursive', 'remove a directory and everything under it')
    .action(async (target: string, o: { recursive?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const r = await withApi(g, t.name, (api) => api.rm(t.path, !!o.recursive));
      out(g.json, r, () => '');
    });

  program
    .command('mv <from> <to>')
    .description('rename NAME:PATH to PATH (or NAME:PATH)')
    .action(async (from: string, to: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const a = parseTarget(g, from);
      const b = isNamed(to) ? parseTarget(g, to) : { name: a.name, path: fsPath(to, to) };
      if (b.name !== a.name) throw new UserError('cannot move between filesystems');
      const r = await withApi(g, a.name, (api) => api.mv(a.path, b.path));
      out(g.json, r, () => '');
    });

  program
    .command('grant <key> <target>')
    .description('let KEY (public key ed25519:... or the fingerprint of a key in the log) write and grant under NAME:PATH; private keys and seeds are refused')
    .action(async (key: string, target: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      refuseLocalSeed(g, key);
      const r = await withApi(g, t.name, (api) => api.grant(key, t.path));
      out(g.json, r, () => `granted ${r.key} (${r.fingerprint}) write and grant rights at ${t.name}:${esc(r.path)} and below (entry ${r.id.slice(0, 12)})`);
    });

  program
    .command('revoke <key> <target>')
    .description("take back KEY's grants at and under NAME:PATH (entries it made before stay valid)")
    .action(async (key: string, target: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      refuseLocalSeed(g, key);
      const r = await withApi(g, t.name, (api) => api.revoke(key, t.path));
      out(g.json, r, () => `revoked ${r.key} (${r.fingerprint}): its grant${r.removed.length === 1 ? '' : 's'} at ${r.removed.map((p: string) => `${t.name}:${esc(p)}`).join(', ')} (revoke entry ${r.id.slice(0, 12)} at ${t.name}:${esc(r.path)})`);
    });

  program
    .command('keys <target>')
    .description('which keys may write where (NAME or NAME:PATH)')
    .action(async (target: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const rows = await withApi(g, t.name, (api) => api.keys(t.path === '/' ? undefined : t.path));
      out(g.json, rows, () => table([['PATH', 'RANK', 'FINGERPRINT', 'KEY', 'GRANTED BY', 'STATE'], ...rows.map((r) => [esc(r.path), String(r.rank), r.fingerprint, r.key, r.grantedBy ?? '(bootstrap)', r.revokedBy ? `revoked by ${r.revokedBy.slice(0, 12)}` : 'active'])]));
    });

  program
    .command('log <target>')
    .description('history of NAME:PATH: every version with author, time, rank, and which won and why')
    .action(async (target: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const rows = await withApi(g, t.name, (api) => api.log(t.path));
      out(g.json, rows, () => rows.length === 0 ? `no history for ${t.name}:${esc(t.path)}` : rows.map((r) => `${r.winner ? '*' : r.valid ? ' ' : '!'} ${r.id.slice(0, 12)} ${r.kind.padEnd(8)} ${r.time} by ${r.author} rank ${r.rank ?? '-'} h${r.height}${r.size !== undefined ? ` ${bytes(r.size)}` : ''}${r.target ? ` -> ${esc(r.target)}` : ''}  ${esc(r.why)}`).join('\n'));
    });

  program
    .command('revert <target> <rev>')
    .description('restore version REV (an id prefix from `basefs log`) of NAME:PATH as a new version')
    .action(async (target: string, rev: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const t = parseTarget(g, target);
      const r = await withApi(g, t.name, (api) => api.revert(t.path, rev));
      out(g.json, r, () => `restored ${t.name}:${esc(t.path)} from ${esc(rev)} (entry ${r.id.slice(0, 12)})`);
    });

  program
    .command('snapshot <name> <label>')
    .description('record a named snapshot (the heads now); readable at MOUNT/.snap/LABEL')
    .action(async (name: string, label: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await withApi(g, name, (api) => api.snapshot(label));
      out(g.json, r, () => `snapshot ${esc(label)} = entry ${r.id.slice(0, 12)}`);
    });

  program
    .command('blocks <name>')
    .description('content chunks: stored, referenced, missing, in transfer; bytes before and after dedup')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const b = await withApi(g, name, (api) => api.blocks());
      out(g.json, b, () => [`chunks stored      ${b.chunksStored}`, `chunks referenced  ${b.referenced}`, `chunks missing     ${b.missing}`, `in transfer        ${b.inTransfer}`,
        `bytes (logical)    ${bytes(b.logicalBytes)}`, `bytes (stored)     ${bytes(b.bytesStored)}`, `dedup ratio        ${b.bytesStored ? (b.logicalBytes / b.bytesStored).toFixed(2) : '-'}x`].join('\n'));
    });

  program
    .command('resources <name>')
    .description('live resource use of the node (memory, entries, peers)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await withApi(g, name, (api, remote) => api.resources().then((x) => ({ ...x, running: remote })));
      out(g.json, r, () => formatResources(name, r));
    });

  program
    .command('members <name>')
    .description('cluster members seen by the running node: peer id, addresses, connected, last seen')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const rows = await withApi(g, name, (api) => api.members());
      out(g.json, rows, () => rows.length === 0 ? 'no members seen yet' : table([['PEER', 'CONNECTED', 'LAST SEEN', 'ADDRESSES'], ...rows.map((r) => [esc(r.peerId), r.connected ? 'yes' : 'no', r.lastSeen ? new Date(r.lastSeen).toISOString() : '-', (r.addrs ?? []).map(esc).join(' ')])]));
    });

  void homeDir;
  void readFileSync;
}
