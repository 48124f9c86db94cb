// Issue 17.2: concurrent commits through the public API share synced batches (group commit),
// and the log they leave is in a valid order: reopen replays it to the same view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { generateKeyPair } from '../../src/crypto/keys.ts';
import { Filesystem } from '../../src/node/filesystem.ts';
import { compareView } from '../../src/node/fsck.ts';
import { toHex } from '../../src/crypto/hash.ts';

const op = fc.record({ kind: fc.constantFrom('write', 'write', 'mkdir', 'mv', 'rm'), a: fc.nat(5), b: fc.nat(5) });

test('concurrent writers share synced batches; the log reopens to the same view, every acknowledged entry present', { timeout: 600_000 }, async () => {
  const kp = generateKeyPair();
  let shared = 0;
  let calls = 0;
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 16 }), fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 16, maxLength: 16 }), async (writers, plans) => {
      const home = mkdtempSync(join(tmpdir(), 'basefs-gc-'));
      try {
        let fs = await Filesystem.create(home, 'g', kp, []);
        const acked: string[] = [];
        const before = { ...fs.log.stats };
        await Promise.all(plans.slice(0, writers).map(async (plan, w) => {
          await fs.mkdir(`/w${w}`);
          for (const o of plan) {
            const p = `/w${w}/f${o.a}`;
            try {
              const e = o.kind === 'write' ? await fs.writeFile(p, Buffer.from(`${w} ${o.a} ${o.b}`))
                : o.kind === 'mkdir' ? await fs.mkdir(`/w${w}/d${o.a}`)
                : o.kind === 'mv' ? await fs.rename(p, `/w${w}/f${o.b}`)
                : await fs.remove(p);
              acked.push(e.idHex);
            } catch (e) {
              // ENOENT/EEXIST from the plan itself (moving a file that is not there): fine
              if (!/no such|already exists|is a directory/.test((e as Error).message)) throw e;
            }
          }
        }));
        const batches = fs.log.stats.batches - before.batches;
        const appends = fs.log.stats.appends - before.appends;
        calls += appends;
        shared += appends - batches;
        const digest = fs.state.viewDigest();
        const heads = [...fs.dag.heads].sort();
        await fs.close();
        fs = await Filesystem.open(home, 'g', kp, { checkView: false });
        try {
          assert.equal(fs.state.viewDigest(), digest, 'reopen replays to the same view');
          assert.deepEqual([...fs.dag.heads].sort(), heads);
          for (const id of acked) assert.ok(fs.dag.has(id), `acknowledged ${id} is stored`);
          // Every entry follows its deps in the stored order (replay would have parked it otherwise).
          assert.equal(fs.dag.parked.size, 0);
          const seen = new Set<string>();
          for (const n of fs.dag.ordered()) {
            for (const d of n.entry.deps) assert.ok(seen.has(toHex(d)), 'deps stored before the entry');
            seen.add(n.entry.idHex);
          }
          assert.deepEqual(await compareView(fs), [], 'stored view equals the replay');
        } finally {
          await fs.close();
        }
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }),
    { numRuns: 12 },
  );
  assert.ok(shared > 0, `concurrent commits shared synced batches (${shared} of ${calls} appends rode on another's sync)`);
});
