import { UserError } from '../errors/errors.ts';

// A duration setting from the environment, in seconds (fractions allowed), or `def` when unset.
export function envSeconds(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`${name} must be a positive number of seconds (got "${v}")`);
  return n;
}
