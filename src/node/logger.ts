import pino from 'pino';

// Structured logs on stderr; BASEFS_LOG=debug|info|warn (default warn so CLI output stays clean).
export const logger = pino({ level: process.env.BASEFS_LOG ?? 'warn', base: { pid: process.pid } }, pino.destination(2));
