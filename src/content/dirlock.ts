import { readFile, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The LOCK file of a content store directory: one writer at a time, across processes (the
// holder's pid and start time, so a stale lock of a dead or reused pid is taken over) and
// within this process (a second open of the same directory is refused).
const openDirs = new Set<string>();

export class DirLock {
  private readonly path: string;
  private readonly dir: string;
  private held = true;

  private constructor(dir: string, path: string) {
    this.dir = dir;
    this.path = path;
  }

  static async acquire(dir: string): Promise<DirLock> {
    if (openDirs.has(dir)) throw new Error(`content store ${dir} is already open in this process`);
    const me = `${process.pid} ${procStart(process.pid)}\n`;
    const path = join(dir, 'LOCK');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await writeFile(path, me, { flag: 'wx' });
        openDirs.add(dir);
        return new DirLock(dir, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const held = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(held[0]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid) && procStart(pid) === (held[1] ?? '')) {
        throw new Error(`content store ${dir} is in use by process ${pid}`);
      }
      await unlink(path).catch(() => {}); // stale: its process is gone
    }
    throw new Error(`could not lock content store ${dir}`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await unlink(this.path).catch(() => {});
    openDirs.delete(this.dir);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Start time of a process (field 22 of /proc/PID/stat), so a reused pid is not taken for the
// lock holder; empty where /proc is not available.
function procStart(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}
