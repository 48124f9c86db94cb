// Content-defined chunking: FastCDC (Xia et al., 2016/2020) with a gear hash, normalized
// chunking (level 2) and the "two bytes per step" loop. Streaming: memory is bounded by one
// maximum-size chunk plus the input piece being scanned, whatever the length of the input.
//
// Every node must cut identically (that is what makes chunks shared across nodes), so the gear
// table is derived from SHA-256 with a fixed label and the parameters are fixed constants;
// changing either is a format change (see docs/CONTENT.md).
import { createHash } from 'node:crypto';

export interface ChunkerParams {
  min: number; // no cut before this many bytes (except the last chunk of the input)
  avg: number; // normal size: power of two; stricter mask before it, looser after it
  max: number; // forced cut at this many bytes
}

export const DEFAULT_PARAMS: Readonly<ChunkerParams> = Object.freeze({ min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 });

export const GEAR_LABEL = 'basefs/content/gear/v1';

// GEAR[b] = first 4 bytes (big-endian, as int32) of SHA-256(GEAR_LABEL || byte b).
export const GEAR: Int32Array = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const d = createHash('sha256').update(GEAR_LABEL).update(Uint8Array.of(i)).digest();
    t[i] = d.readInt32BE(0);
  }
  return t;
})();

// GEAR_LS[b] = GEAR[b] << 1, for the two-bytes-per-step loop.
const GEAR_LS: Int32Array = GEAR.map((g) => g << 1);

// Masks of `bits` one-bits placed in bits 30..(31-bits) of the 32-bit fingerprint. The high bits
// depend on the most bytes (bit k depends on the last k+1 bytes), and leaving bit 31 out makes
// the two-bytes-per-step check `(fp << 1) & (mask << 1)` exactly equal to the one-byte check.
export function maskFor(bits: number): number {
  if (bits < 1 || bits > 30) throw new RangeError(`mask bits out of range: ${bits}`);
  return (((1 << bits) - 1) << (31 - bits)) | 0;
}

export function checkParams(p: ChunkerParams): void {
  const { min, avg, max } = p;
  if (!Number.isInteger(min) || !Number.isInteger(avg) || !Number.isInteger(max)) throw new RangeError('chunker sizes must be integers');
  if (!(min >= 64 && min < avg && avg < max && max <= 1 << 30)) throw new RangeError(`chunker sizes need 64 <= min < avg < max <= 1 GiB (got ${min}/${avg}/${max})`);
  if ((avg & (avg - 1)) !== 0) throw new RangeError(`chunker avg must be a power of two (got ${avg})`);
}

interface Masks { s: number; l: number; sLs: number; lLs: number }

function masksFor(p: ChunkerParams): Masks {
  const bits = Math.round(Math.log2(p.avg));
  const s = maskFor(bits + 2); // normalized chunking level 2: harder to cut before avg...
  const l = maskFor(bits - 2); // ...easier after it
  return { s, l, sLs: (s << 1) | 0, lLs: (l << 1) | 0 };
}

// Reference one-byte-at-a-time cutter over a whole buffer: the definition the fast streaming
// chunker must match (tests compare them). Returns the end offset of every chunk.
export function referenceCutPoints(data: Uint8Array, params: ChunkerParams = DEFAULT_PARAMS): number[] {
  checkParams(params);
  const { min, avg, max } = params;
  const m = masksFor(params);
  const cuts: number[] = [];
  let start = 0;
  while (start < data.length) {
    const remaining = data.length - start;
    if (remaining <= min) { cuts.push(data.length); break; }
    const end = Math.min(remaining, max);
    let len = end;
    let fp = 0;
    for (let i = min; i < end; i++) {
      fp = ((fp << 1) + GEAR[data[start + i]]) | 0;
      if ((fp & (i < avg ? m.s : m.l)) === 0) { len = i + 1; break; }
    }
    start += len;
    cuts.push(start);
  }
  return cuts;
}

// Streaming chunker. push() takes input pieces of any size and returns the chunks completed by
// them; finish() returns the last (possibly short) chunk. A returned chunk is either a view into
// a pushed piece (no copy) or a fresh copy when it spans pieces, so pieces must not be modified
// after being pushed (Node streams never reuse their buffers).
export class Chunker {
  readonly params: ChunkerParams;
  private readonly masks: Masks;
  private parts: Uint8Array[] = []; // bytes of the current chunk from earlier pieces
  private n = 0; // bytes of the current chunk seen so far (= total length of parts)
  private fp = 0; // gear fingerprint of the current chunk
  private total = 0.5; // a double from the start (no Smi-overflow deopt past 2 GiB); 0.5 removed in bytesIn

  private readonly wasm: boolean;

  // opts.impl = 'js' forces the JavaScript scanner (tests compare the two).
  constructor(params: ChunkerParams = DEFAULT_PARAMS, opts: { impl?: 'js' | 'wasm' } = {}) {
    checkParams(params);
    this.wasm = wasm !== null && opts.impl !== 'js';
    this.params = { min: params.min, avg: params.avg, max: params.max };
    this.masks = masksFor(params);
  }

  // Whether the unfinished chunk still refers to bytes of this buffer.
  holds(ab: ArrayBufferLike): boolean {
    for (const p of this.parts) if (p.buffer === ab) return true;
    return false;
  }

  // Bytes pushed so far.
  get bytesIn(): number { return this.total - 0.5; }

  // Chunks completed by this piece, each as the list of its parts: views into this piece and
  // earlier ones, never copies (hash them with update() per part, write them with writev).
  pushParts(piece: Uint8Array): Uint8Array[][] {
    const out: Uint8Array[][] = [];
    if (!this.wasm) {
      this.pushWindow(piece, out);
      return out;
    }
    // the WebAssembly scanner works on a copy in its memory, a window at a time
    for (let o = 0; o < piece.length; o += WASM_WINDOW) {
      const w = o === 0 && piece.length <= WASM_WINDOW ? piece : piece.subarray(o, o + WASM_WINDOW);
      wasm!.mem8.set(w, WASM_DATA);
      this.pushWindow(w, out);
    }
    return out;
  }

  private pushWindow(piece: Uint8Array, out: Uint8Array[][]): void {
    const L = piece.length;
    if (L === 0) return;
    this.total += L;
    const { min, avg, max } = this.params;
    const m = this.masks;
    // cs = index in piece where the current chunk starts (negative: it started in earlier pieces)
    let cs = -this.n;
    let fp = this.fp;
    let i = 0; // next byte of the piece to look at
    for (;;) {
      const cut = findCut(this.wasm, piece, L, cs, i, fp, min, avg, max, m.s, m.sLs, m.l, m.lLs);
      if (cut < 0) { fp = cutFp; break; }
      if (cs >= 0) {
        out.push([piece.subarray(cs, cut)]);
      } else {
        addPart(this.parts, piece.subarray(0, cut));
        out.push(this.parts);
        this.parts = [];
      }
      cs = cut;
      i = cut;
      fp = 0;
    }
    // keep the unfinished chunk's bytes from this piece
    const keepFrom = cs > 0 ? cs : 0;
    if (keepFrom < L) {
      addPart(this.parts, keepFrom === 0 ? piece : piece.subarray(keepFrom));
      if (this.parts.length > 64) this.parts = [concat(this.parts, L - cs)];
    }
    this.n = L - cs;
    this.fp = fp;
  }

  // The last chunk (shorter than min when the input is), or nothing for an empty remainder.
  finishParts(): Uint8Array[][] {
    if (this.n === 0) return [];
    const parts = this.parts;
    this.parts = [];
    this.n = 0;
    this.fp = 0;
    return [parts];
  }

  // Same as pushParts, with each chunk in one buffer (a view when it lies in one piece, else a
  // copy).
  push(piece: Uint8Array): Uint8Array[] {
    return this.pushParts(piece).map(joinParts);
  }

  finish(): Uint8Array[] {
    return this.finishParts().map(joinParts);
  }
}

// Appends a view to a chunk's parts, merging it with the previous one when they are adjacent
// views of one buffer (windows of one piece).
function addPart(parts: Uint8Array[], v: Uint8Array): void {
  const last = parts.length ? parts[parts.length - 1] : null;
  if (last && last.buffer === v.buffer && last.byteOffset + last.length === v.byteOffset) {
    parts[parts.length - 1] = new Uint8Array(v.buffer, last.byteOffset, last.length + v.length);
  } else {
    parts.push(v);
  }
}

export function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  return concat(parts, n);
}

// End (exclusive index in b) of the chunk that starts at cs (negative: in an earlier piece),
// scanning b[i..L) with fingerprint fp; -1 if the piece ends first (cutFp then holds the
// fingerprint to resume with).
let cutFp = 0;
function findCut(useWasm: boolean, b: Uint8Array, L: number, cs: number, i: number, fp: number, min: number, avg: number, max: number,
  mS: number, mSLs: number, mL: number, mLLs: number): number {
  const hashFrom = cs + min; // no cut before min: those bytes are skipped
  if (i < hashFrom) {
    if (hashFrom >= L) { cutFp = 0; return -1; }
    i = hashFrom;
    fp = 0;
  }
  // chunk positions [min, avg): strict mask
  let e = cs + avg;
  if (e > L) e = L;
  if (i < e) {
    const c = useWasm ? scanWasm(i, e, fp, mS, mSLs) : scan(b, i, e, fp, mS, mSLs);
    if (c >= 0) return c;
    fp = scanFp;
    i = e;
  }
  // chunk positions [avg, max): loose mask, then a forced cut at max
  e = cs + max;
  if (e > L) e = L;
  if (i < e) {
    const c = useWasm ? scanWasm(i, e, fp, mL, mLLs) : scan(b, i, e, fp, mL, mLLs);
    if (c >= 0) return c;
    fp = scanFp;
    i = e;
  }
  if (i === cs + max) return i;
  cutFp = fp;
  return -1;
}

// Gear-hashes b[i..end) from fingerprint fp, two bytes per step (one first when the count is
// odd, so that path runs often enough to stay optimized); returns the index just after the
// first byte where (fp & mask) == 0, or -1 with the final fingerprint left in scanFp.
let scanFp = 0;
function scan(b: Uint8Array, i: number, end: number, fp: number, maskIn: number, maskLsIn: number): number {
  const G = GEAR;
  const GLs = GEAR_LS;
  // masks use bit 30, outside V8's small-integer range: without "| 0" they arrive as heap
  // numbers and the loop converts them on every byte (half the speed)
  const mask = maskIn | 0;
  const maskLs = maskLsIn | 0;
  fp |= 0;
  if (((end - i) & 1) !== 0) {
    fp = ((fp << 1) + G[b[i]]) | 0;
    i++;
    if ((fp & mask) === 0) return i;
  }
  for (; i < end; i += 2) {
    fp = ((fp << 2) + GLs[b[i]]) | 0;
    if ((fp & maskLs) === 0) return i + 1;
    fp = (fp + G[b[i + 1]]) | 0;
    if ((fp & mask) === 0) return i + 2;
  }
  scanFp = fp;
  return -1;
}

// The same scan in WebAssembly (about 2.5x faster than the JIT's code for the loop above): the
// window being chunked is copied to WASM_DATA in its memory; GEAR at 0, GEAR_LS at 1024.
function scanWasm(i: number, end: number, fp: number, mask: number, maskLs: number): number {
  const r = wasm!.scan(WASM_DATA + i, WASM_DATA + end, fp | 0, mask | 0, maskLs | 0);
  if (r < 0) {
    scanFp = wasm!.fp.value;
    return -1;
  }
  return r - WASM_DATA;
}

const WASM_DATA = 2048;
const WASM_WINDOW = 1 << 20;

interface WasmScanner { scan: (p: number, end: number, fp: number, mask: number, maskLs: number) => number; fp: { value: number }; mem8: Uint8Array }

// Hand-assembled module (no toolchain needed). In WebAssembly text:
//   (func (export "scan") (param $p i32) (param $end i32) (param $fp i32) (param $mask i32)
//                         (param $maskLs i32) (result i32)
//     (if (i32.and (i32.sub $end $p) 1)            ;; odd count: one byte first
//       (then $fp = ($fp << 1) + GEAR[mem[$p]]; $p += 1; (if (($fp & $mask) == 0) (return $p))))
//     (block (loop
//       (br_if 1 (i32.ge_u $p $end))
//       $fp = ($fp << 2) + GEAR_LS[mem[$p]];  (if (($fp & $maskLs) == 0) (return $p + 1))
//       $fp = $fp + GEAR[mem[$p + 1]];        (if (($fp & $mask) == 0) (return $p + 2))
//       $p += 2; (br 0)))
//     (global.set $fpOut $fp) (i32.const -1))
// (tsconfig's lib has no WebAssembly types: the two constructors used, typed here)
interface WasmApi { Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: unknown } }

function buildWasm(): WasmScanner | null {
  const WA = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (process.env.BASEFS_CHUNKER === 'js' || !WA) return null;
  const uleb = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; };
  const sec = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const str = (t: string): number[] => [...uleb(t.length), ...Buffer.from(t)];
  const GET = 0x20, SET = 0x21, I32 = 0x41, SHL = 0x74, ADD = 0x6a, SUB = 0x6b, AND = 0x71, EQZ = 0x45;
  const LOAD8 = 0x2d, LOAD = 0x28, IF = 0x04, END = 0x0b, RET = 0x0f, VOID = 0x40;
  const body = [0x00,
    GET, 1, GET, 0, SUB, I32, 1, AND, IF, VOID,
    GET, 2, I32, 1, SHL, GET, 0, LOAD8, 0, 0, I32, 2, SHL, LOAD, 2, 0, ADD, SET, 2,
    GET, 0, I32, 1, ADD, SET, 0,
    GET, 2, GET, 3, AND, EQZ, IF, VOID, GET, 0, RET, END,
    END,
    0x02, VOID, 0x03, VOID,
    GET, 0, GET, 1, 0x4f, 0x0d, 1,
    GET, 2, I32, 2, SHL, GET, 0, LOAD8, 0, 0, I32, 2, SHL, LOAD, 2, 0x80, 0x08, ADD, SET, 2,
    GET, 2, GET, 4, AND, EQZ, IF, VOID, GET, 0, I32, 1, ADD, RET, END,
    GET, 2, GET, 0, LOAD8, 0, 1, I32, 2, SHL, LOAD, 2, 0, ADD, SET, 2,
    GET, 2, GET, 3, AND, EQZ, IF, VOID, GET, 0, I32, 2, ADD, RET, END,
    GET, 0, I32, 2, ADD, SET, 0,
    0x0c, 0,
    END, END,
    GET, 2, 0x24, 0, I32, 0x7f, END];
  const pages = Math.ceil((WASM_DATA + WASM_WINDOW) / 65536);
  const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...sec(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f]),
    ...sec(3, [1, 0]),
    ...sec(5, [1, 0x01, ...uleb(pages), ...uleb(pages)]),
    ...sec(6, [1, 0x7f, 0x01, I32, 0x00, END]),
    ...sec(7, [3, ...str('scan'), 0, 0, ...str('mem'), 2, 0, ...str('fp'), 3, 0]),
    ...sec(10, [1, ...uleb(body.length), ...body])]);
  try {
    const inst = new WA.Instance(new WA.Module(bytes));
    const ex = inst.exports as unknown as { scan: WasmScanner['scan']; fp: { value: number }; mem: { buffer: ArrayBuffer } };
    const t = new Int32Array(ex.mem.buffer, 0, 512);
    for (let i = 0; i < 256; i++) { t[i] = GEAR[i]; t[256 + i] = GEAR_LS[i]; }
    return { scan: ex.scan, fp: ex.fp, mem8: new Uint8Array(ex.mem.buffer) };
  } catch {
    return null;
  }
}

const wasm: WasmScanner | null = buildWasm();

// Which scanner this process uses ('wasm', or 'js' with BASEFS_CHUNKER=js or no WebAssembly).
export const CHUNKER_IMPL: 'wasm' | 'js' = wasm ? 'wasm' : 'js';

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// Chunks of a whole buffer (views into it).
export function chunkBuffer(data: Uint8Array, params: ChunkerParams = DEFAULT_PARAMS): Uint8Array[] {
  const c = new Chunker(params);
  const out = c.push(data);
  for (const x of c.finish()) out.push(x);
  return out;
}

// Streaming form: yields chunks as the input arrives.
export async function* chunkStream(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, params: ChunkerParams = DEFAULT_PARAMS): AsyncGenerator<Uint8Array> {
  const c = new Chunker(params);
  for await (const piece of src) yield* c.push(piece);
  yield* c.finish();
}
