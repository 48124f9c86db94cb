// A node that starts with a large backlog (issue 11): it writes progress to its log while it
// opens, and `basefs run` in the background waits while progress comes instead of killing it
// at its silence timeout. The backlog is what made a real node miss its 60 s: parked entries
// (persisted, each signature checked again on open). The backlog goes in through ingest, as
// from peers; the node is started by the CLI as a user starts it.
//
// Independent of machine speed: the open of this backlog is timed in this process first (T),
// and the parent's silence timeout is set to T / 2.5 (BASEFS_START_TIMEOUT), progress lines
// every 20 ms (BASEFS_PROGRESS_INTERVAL). The whole start then lasts about 2.5 times the
// silence timeout, and each quiet stretch (process start-up, network start) well under it, on
// a fast machine or a loaded one alike: without progress lines, the parent gives up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { basefs, ok, tmpHome } from './helpers.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { loadKeyFile } from '../../src/crypto/keyfile.ts';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { createEntry } from '../../src/log/sign.ts';
import { Kind } from '../../src/log/entry.ts';
import { controlSocketPath, fsDir } from '../../src/node/datadir.ts';

const NAME = 'backlog';
const KEYS = 8; // parking allows 4 MiB per author: eight granted keys fill most of its 32 MiB
const PER_KEY = 4500;

test('a node with a large backlog shows progress in its log and `basefs run` waits for it', { timeout: 600_000 }, async (t) => {
  const home = tmpHome(t, 'basefs-backlog-');
  ok(home, ['genkey']);
  ok(home, ['bootstrap', NAME]);
  const fs = await Filesystem.open(home, NAME, loadKeyFile(join(home, 'id_ed25519')));
  try {
    for (let j = 0; j < KEYS; j++) {
      const k = generateKeyPair();
      await fs.grant(k.publicKey, `/k${j}`);
      // entries whose dep never arrives: parked (and persisted) until it does
      for (let i = 0; i < PER_KEY; i += 500) {
        const batch = Array.from({ length: 500 }, (_, n) => createEntry(k, { kind: Kind.MKDIR, path: `/k${j}/o${i + n}`, fsId: fs.fsId, deps: [new Uint8Array(randomBytes(32))], mode: 0o755 }).bytes);
        await fs.ingest(batch, `peer${j}`);
      }
    }
  } finally {
    await fs.close();
  }
  const t0 = performance.now();
  const probe = await Filesystem.open(home, NAME, null);
  const openMs = performance.now() - t0;
  const parked = probe.dag.parked.size;
  await probe.close();
  assert.ok(parked > 10_000, `the backlog holds ${parked} parked entries`);
  const silenceS = openMs / 2.5 / 1000;
  const env = { BASEFS_START_TIMEOUT: silenceS.toFixed(3), BASEFS_PROGRESS_INTERVAL: '0.02' };
  const args = ['run', NAME, '--port', '0', '--host', '127.0.0.1', '--no-mdns'];
  const log = join(fsDir(home, NAME), 'node.log');
  const progress = () => [...readFileSync(log, 'utf8').matchAll(new RegExp(`^opening ${NAME}: (\\d+) entries read, (\\d+) parked entries checked$`, 'gm'))].map((m) => Number(m[2]));
  process.stdout.write(`# backlog: ${parked} parked entries, opened in ${Math.round(openMs)} ms here; parent silence timeout ${silenceS.toFixed(2)} s\n`);

  // Progress lines switched off (one an hour): the parent gives up and stops the node.
  const quiet = basefs(home, args, undefined, { ...env, BASEFS_PROGRESS_INTERVAL: '3600' });
  assert.notEqual(quiet.code, 0, 'without progress the parent gives up');
  assert.match(quiet.stderr, /did not start \(no progress for [\d.]+ s; BASEFS_START_TIMEOUT/);
  assert.equal(progress().length, 0);
  // the parent stopped it (SIGTERM): the log is free again once it has exited
  const deadline = Date.now() + 60_000;
  while (basefs(home, ['--json', 'status', NAME]).code !== 0) {
    assert.ok(Date.now() < deadline, 'the stopped node released its log within 60 s');
    await new Promise((res) => setTimeout(res, 200));
  }

  // With progress: it waits, the node starts and holds the whole backlog.
  const t1 = performance.now();
  const r = basefs(home, args, undefined, env);
  const startMs = performance.now() - t1;
  t.after(() => { basefs(home, ['stop', NAME]); });
  assert.equal(r.code, 0, `basefs run in the background: ${r.stderr}`);
  assert.match(r.stdout, /running in the background/);
  const seen = progress();
  assert.ok(seen.length >= 2, `progress lines in ${log}: ${seen.length}`);
  assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), `the counts grow: ${seen.join(', ')}`);
  assert.ok(startMs > silenceS * 1000, `the start (${Math.round(startMs)} ms) outlasted the silence timeout, so the parent waited because progress came`);
  const st = JSON.parse(ok(home, ['--json', 'status', NAME]));
  assert.equal(st.running, true);
  assert.equal(st.parked, parked, 'the node holds every parked entry');
  ok(home, ['stop', NAME]);
  assert.equal(existsSync(controlSocketPath(home, NAME)), false);
});
