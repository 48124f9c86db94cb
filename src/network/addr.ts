import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { UserError } from '../errors/errors.ts';

// User-facing addresses: "ip" (the filesystem's default port), "ip:port", "[v6]:port", or a
// multiaddr ("/ip4/10.0.0.1/tcp/12345[/p2p/PEER]"). Hostnames are accepted as /dns/.
export function toMultiaddr(a: string, defaultPort: number): Multiaddr {
  const s = a.trim();
  if (!s) throw new UserError('empty address');
  if (s.startsWith('/')) {
    try {
      return multiaddr(s);
    } catch (e) {
      throw new UserError(`bad multiaddr "${s}": ${(e as Error).message}`);
    }
  }
  let host = s;
  let port = defaultPort;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1];
    if (v6[2]) port = Number(v6[2]);
  } else if (/^[0-9a-fA-F:]+$/.test(s) && s.split(':').length > 2) {
    host = s; // bare IPv6
  } else {
    const i = s.lastIndexOf(':');
    if (i >= 0) {
      host = s.slice(0, i);
      port = Number(s.slice(i + 1));
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`bad port in address "${s}"`);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    if (host.split('.').some((o) => Number(o) > 255)) throw new UserError(`bad IPv4 address "${host}"`);
    return multiaddr(`/ip4/${host}/tcp/${port}`);
  }
  if (host.includes(':')) return multiaddr(`/ip6/${host}/tcp/${port}`);
  if (/^[A-Za-z0-9.-]+$/.test(host)) return multiaddr(`/dns/${host}/tcp/${port}`);
  throw new UserError(`bad address "${s}": expected ip, ip:port or a multiaddr`);
}

// Lines of a /.cluster file: one address per line; blank lines and # comments are skipped.
export function parseClusterFile(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

// "1.2.3.4:5" style key of a TCP multiaddr (for matching our own listen addresses).
export function hostPort(ma: Multiaddr): string | null {
  const parts = ma.getComponents();
  const ip = parts.find((c) => c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns' || c.name === 'dns4' || c.name === 'dns6');
  const tcp = parts.find((c) => c.name === 'tcp');
  if (!ip || !tcp) return null;
  return `${ip.value}:${tcp.value}`;
}

export function peerIdOf(ma: Multiaddr): string | null {
  const p = ma.getComponents().find((c) => c.name === 'p2p');
  return p?.value ?? null;
}
