import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fuseUnavailable, testFs, sh, must, q, ROOT } from './helpers.ts';

const skip = fuseUnavailable();
if (skip) console.log(`# skipping FUSE tests: ${skip}`);

// Everyday tools on a real source tree: this repository's src/ and node_modules/commander.
test('cp -r, tar x/c, rsync, sed -i, mv and git inside the mount', { skip: skip ?? false, timeout: 600_000 }, (t) => {
  const f = testFs(t);
  f.mount();
  const m = f.mnt;
  const run = (cmd: string, timeoutMs = 300_000) => must(cmd, { cwd: m, timeoutMs });
  const scratch = join(f.base, 'scratch');
  must(`mkdir -p ${q(scratch)} && tar -C ${q(ROOT)} -cf ${q(scratch)}/tree.tar src node_modules/commander`);

  // cp -r, and a byte-for-byte comparison
  run(`cp -r ${q(ROOT)}/src cp-src`);
  run(`diff -r ${q(ROOT)}/src cp-src`);

  // tar extract keeps contents, modes and mtimes; tar create from the mount round-trips
  run(`mkdir x && tar -C x -xf ${q(scratch)}/tree.tar`);
  run(`diff -r ${q(ROOT)}/node_modules/commander x/node_modules/commander && diff -r ${q(ROOT)}/src x/src`);
  const listing = (dir: string) => must(`cd ${q(dir)} && find . -type f -printf '%P %m %s %TY-%Tm-%Td_%TH:%TM:%.2TS\\n' | sort`);
  assert.equal(listing(join(m, 'x/node_modules/commander')), listing(join(ROOT, 'node_modules/commander')));
  run(`tar -C x -cf ${q(scratch)}/back.tar node_modules/commander src`);
  must(`mkdir ${q(scratch)}/back && tar -C ${q(scratch)}/back -xf ${q(scratch)}/back.tar && diff -r ${q(ROOT)}/node_modules/commander ${q(scratch)}/back/node_modules/commander`);
  assert.match(run('tar -tvf ' + q(join(scratch, 'back.tar')) + ' | head -3'), /node_modules\/commander/);

  // rsync -a in, then again: nothing to transfer the second time (sizes and mtimes match)
  run(`rsync -a ${q(ROOT)}/src/ rs/`);
  run(`diff -r ${q(ROOT)}/src rs`);
  const again = run(`rsync -ai ${q(ROOT)}/src/ rs/`);
  assert.equal(again.trim(), '', `second rsync transferred: ${again}`);
  run(`echo changed >> rs/cli/main.ts && rsync -a rs/ ${q(scratch)}/rs-out/ && tail -1 ${q(scratch)}/rs-out/cli/main.ts | grep -q changed`);

  // sed -i writes a temp file and renames it over the original
  // sync(1) on the file fsyncs it, so the first version is committed before sed replaces it
  run(`printf 'alpha\\nbeta\\n' > conf.txt && sync conf.txt && sed -i 's/beta/gamma/' conf.txt`);
  assert.equal(run('cat conf.txt'), 'alpha\ngamma\n');
  assert.deepEqual(run('ls').split('\n').filter((n) => n.startsWith('sed')), []);
  const log = JSON.parse(f.ok(`--json log ${f.name}:/conf.txt`));
  assert.ok(log.length >= 2, JSON.stringify(log)); // the first write, then sed's rename (or write) over it

  // mv across directories and over an existing file
  run('mkdir -p a/b && echo 1 > a/b/one && echo 2 > two && mv a/b/one two && mv two a/');
  assert.equal(run('cat a/two'), '1\n');

  // git: init, add, commit, log, status, a second commit, checkout of the first
  const git = 'git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main';
  run(`mkdir repo && cd repo && ${git} init -q && cp -r ${q(ROOT)}/src/fuse . && ${git} add -A && ${git} commit -qm first`);
  run(`cd repo && echo '// more' >> fuse/ops.ts && ${git} commit -qam second`);
  assert.equal(run(`cd repo && ${git} log --format=%s`), 'second\nfirst\n');
  assert.equal(run(`cd repo && ${git} status --porcelain`), '');
  run(`cd repo && ${git} checkout -q HEAD~1 && ${git} fsck --no-progress 2>&1`);
  run(`cd repo && diff ${q(ROOT)}/src/fuse/ops.ts fuse/ops.ts`);
  run(`cd repo && ${git} checkout -q main && tail -1 fuse/ops.ts | grep -q more`);

  // the log holds all of it: after a remount the trees are still identical
  f.unmount();
  f.mount();
  run(`diff -r ${q(ROOT)}/src cp-src && diff -r ${q(ROOT)}/node_modules/commander x/node_modules/commander`);
  assert.equal(run(`cd repo && ${git} log --format=%s`), 'second\nfirst\n');
  void sh;
});
