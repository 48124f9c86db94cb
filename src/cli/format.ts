// Terminal safety: paths, names, keys, labels and peers' messages come from other people; a
// control character in them (ESC ] 0; sets the title, ESC [2J clears the screen, a newline fakes
// a line) would act on the terminal. esc() shows every C0/DEL/C1 control as \xNN (and a
// backslash as \\, so the escaped form is unambiguous); use it on every such field. out() and
// the error printer also escape whatever controls are left except the newlines between lines.
import type { FsApi } from '../node/api.ts';

const CONTROL = /[\x00-\x1f\x7f-\x9f\\]/g;
const CONTROL_BUT_NL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;
const hex = (c: string) => (c === '\\' ? '\\\\' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));

export function esc(s: unknown): string {
  return String(s ?? '').replace(CONTROL, hex);
}

export function escLines(s: string): string {
  return s.replace(CONTROL_BUT_NL, hex);
}

// Human output helpers; --json prints the raw data instead (JSON escapes controls itself).
export function out(json: boolean | undefined, data: unknown, human: () => string): void {
  if (json) process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else {
    const s = escLines(human());
    if (s) process.stdout.write(s.endsWith('\n') ? s : s + '\n');
  }
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${u[i]}`;
}

export function modeString(type: string, mode: number): string {
  const t = type === 'dir' ? 'd' : type === 'symlink' ? 'l' : '-';
  let s = '';
  for (let i = 8; i >= 0; i--) s += mode & (1 << i) ? 'rwx'[(8 - i) % 3] : '-';
  return t + s;
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ')).join('\n');
}

export function duration(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = Math.floor(sec % 60);
  return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`;
}

// `basefs resources` for people; --json gives every field and counter.
export function formatResources(name: string, r: Awaited<ReturnType<FsApi['resources']>> & { running: boolean }): string {
  const who = r.running ? `node of ${name}, pid ${r.pid}, up ${duration(r.uptimeSec)}` : `no node is running for ${name}: figures of this command's own process, which opened the log`;
  const lines = [
    `process     ${who}`,
    `memory      ${bytes(r.rss)} resident, ${bytes(r.heapUsed)} JS heap`,
    `entries     ${r.entries}${r.parked ? ` (+${r.parked} waiting for deps)` : ''}`,
  ];
  const n = r.node;
  if (!n) {
    lines.push(`network     ${r.running ? 'off (started without networking)' : '-'}`);
    return lines.join('\n');
  }
  const q = n.queues;
  lines.push(
    `peer id     ${n.peerId}`,
    `port        ${n.port ?? '-'}`,
    ...n.addrs.map((a) => `listen      ${a}`),
    `peers       ${n.peers.connected} connected, ${n.peers.members} members, ${n.peers.known} known; ${n.connections} connections`,
    `sync        ${q.syncRunning} running, ${q.syncQueued} queued`,
    `content     ${q.contentQueued} files queued, ${q.contentIncomplete} incomplete, ${q.inTransfer} chunks in transfer`,
    `traffic     ${bytes(n.bytes.in)} in, ${bytes(n.bytes.out)} out`,
  );
  return lines.join('\n');
}
