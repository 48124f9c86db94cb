// Searching files for private key material (control and partition tests).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';

// Every representation of the private keys we can think of, searched in every file.
export function keyNeedles(pems: string[]): { label: string; bytes: Buffer }[] {
  const out: { label: string; bytes: Buffer }[] = [];
  for (const pem of pems) {
    const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
    const seed = der.subarray(der.length - 32);
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    out.push({ label: 'raw seed', bytes: seed });
    out.push({ label: 'seed hex', bytes: Buffer.from(seed.toString('hex')) });
    out.push({ label: 'seed base64', bytes: Buffer.from(seed.toString('base64').slice(0, 40)) });
    out.push({ label: 'seed base64url', bytes: Buffer.from(seed.toString('base64url').slice(0, 40)) });
    out.push({ label: 'PKCS#8 DER', bytes: der });
    out.push({ label: 'PEM body', bytes: Buffer.from(body) });
    out.push({ label: 'PEM header', bytes: Buffer.from('PRIVATE KEY') });
  }
  return out;
}

export function scanForKeys(dir: string, pems: string[], exclude: string[]): string[] {
  const needles = keyNeedles(pems);
  const found: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, n.name);
      if (exclude.includes(p)) continue;
      if (n.isDirectory()) walk(p);
      else if (n.isFile()) {
        const b = readFileSync(p);
        for (const x of needles) if (b.includes(x.bytes)) found.push(`${p} (${x.label})`);
      }
    }
  };
  walk(dir);
  return found;
}

