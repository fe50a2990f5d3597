/**
 * Byte and text mutations for the parser fuzz run. Each operator takes the PRNG and returns a new
 * buffer plus a short description, so a failing case can say what was done to the file.
 */
import type { Prng } from './prng.js';

export interface Mutated {
  bytes: Buffer;
  ops: string[];
}

/** Byte values that flip signedness, terminate strings or end lines. */
export const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x0a, 0x0d, 0x2f, 0x3a];
/** 32-bit values at type boundaries: sizes, counts and offsets that overflow or go negative. */
export const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x40000000, 0x1000];
/** Number spellings a text field may carry: huge, negative, fractional, hex, exponent, empty. */
export const INTERESTING_NUMBERS = [
  '0', '-1', '1', '00000000000', '4294967295', '4294967296', '2147483648', '9007199254740993', '99999999999999999999999',
  '1e9', '1e308', '0x10', '-0', '1.5', 'NaN', '', '  ', '+7', '0777', '١٢',
];

export type ByteOp = (rng: Prng, buf: Buffer, donors: Buffer[]) => [Buffer, string];

function pos(rng: Prng, buf: Buffer): number {
  return buf.length === 0 ? 0 : rng.below(buf.length);
}

/** A chunk length biased small, sometimes large. */
function chunkLen(rng: Prng, max: number): number {
  if (max <= 0) return 0;
  const cap = rng.chance(0.8) ? Math.min(max, 64) : max;
  return rng.between(1, Math.max(1, cap));
}

export const BYTE_OPS: Record<string, ByteOp> = {
  bitflip(rng, buf) {
    const out = Buffer.from(buf);
    const n = rng.between(1, 8);
    const at: number[] = [];
    for (let i = 0; i < n && out.length; i++) {
      const p = pos(rng, out);
      out[p] ^= 1 << rng.below(8);
      at.push(p);
    }
    return [out, `bitflip@${at.join(',')}`];
  },
  interestingByte(rng, buf) {
    const out = Buffer.from(buf);
    const p = pos(rng, out);
    const v = rng.pick(INTERESTING_BYTES);
    const n = Math.min(rng.chance(0.7) ? 1 : rng.between(2, 16), out.length - p);
    out.fill(v, p, p + n);
    return [out, `byte@${p}x${n}=0x${v.toString(16)}`];
  },
  interestingU32(rng, buf) {
    const out = Buffer.from(buf);
    if (out.length < 4) return [out, 'u32(skip)'];
    const p = rng.below(out.length - 3) & (rng.chance(0.5) ? ~3 : ~0);
    const v = rng.chance(0.2) ? (buf.length + rng.between(-2, 2)) >>> 0 : rng.pick(INTERESTING_U32);
    if (rng.chance(0.7)) out.writeUInt32BE(v, p);
    else out.writeUInt32LE(v, p);
    return [out, `u32@${p}=0x${v.toString(16)}`];
  },
  truncate(rng, buf) {
    const p = rng.chance(0.3) ? Math.max(0, buf.length - rng.between(1, 1024)) : pos(rng, buf);
    return [Buffer.from(buf.subarray(0, p)), `truncate@${p}`];
  },
  duplicate(rng, buf) {
    const a = pos(rng, buf);
    const len = chunkLen(rng, buf.length - a);
    const at = pos(rng, buf);
    const chunk = buf.subarray(a, a + len);
    return [Buffer.concat([buf.subarray(0, at), chunk, buf.subarray(at)]), `dup[${a}+${len}]@${at}`];
  },
  insertRandom(rng, buf) {
    const at = pos(rng, buf);
    const len = chunkLen(rng, 256);
    const chunk = Buffer.alloc(len);
    for (let i = 0; i < len; i++) chunk[i] = rng.chance(0.3) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
    return [Buffer.concat([buf.subarray(0, at), chunk, buf.subarray(at)]), `insert${len}@${at}`];
  },
  deleteChunk(rng, buf) {
    const a = pos(rng, buf);
    const len = chunkLen(rng, buf.length - a);
    return [Buffer.concat([buf.subarray(0, a), buf.subarray(a + len)]), `delete[${a}+${len}]`];
  },
  splice(rng, buf, donors) {
    const donor = donors.length ? rng.pick(donors) : buf;
    const a = pos(rng, donor);
    const len = chunkLen(rng, donor.length - a);
    const at = pos(rng, buf);
    const chunk = donor.subarray(a, a + len);
    if (rng.chance(0.5)) {
      const out = Buffer.from(buf);
      chunk.copy(out, at);
      return [out, `splice-over[${a}+${len}]@${at}`];
    }
    return [Buffer.concat([buf.subarray(0, at), chunk, buf.subarray(at)]), `splice-in[${a}+${len}]@${at}`];
  },
  numericText(rng, buf) {
    return editNumber(rng, buf, 0, buf.length);
  },
};

/**
 * Replace one run of ASCII digits in buf[from, to) (a text field, an ar or tar header field) with an
 * interesting number spelling; for fixed-width header fields the caller passes the field's range.
 */
export function editNumber(rng: Prng, buf: Buffer, from: number, to: number, fixedWidth = false): [Buffer, string] {
  const text = buf.toString('latin1', from, to);
  const runs = [...text.matchAll(/[0-9]+/g)];
  if (runs.length === 0) return [Buffer.from(buf), 'number(none)'];
  const run = rng.pick(runs);
  const start = from + run.index!;
  const old = run[0];
  let next: string;
  const n = Number(old);
  switch (rng.below(4)) {
    case 0:
      next = String(n + rng.pick([1, -1, 2, 512, -512, 1000000]));
      break;
    case 1:
      next = String(n * rng.pick([2, 1000, 1000000]));
      break;
    default:
      next = rng.pick(INTERESTING_NUMBERS);
  }
  if (fixedWidth) {
    const field = Buffer.alloc(old.length, 0x20);
    field.write(next.slice(0, old.length), 'latin1');
    const out = Buffer.from(buf);
    field.copy(out, start);
    return [out, `number@${start}:${old}->${next.slice(0, old.length)}`];
  }
  const out = Buffer.concat([buf.subarray(0, start), Buffer.from(next, 'latin1'), buf.subarray(start + old.length)]);
  return [out, `number@${start}:${old}->${next}`];
}

/** Line-level edits for text formats (deb822, YAML): structure breaks a byte flip rarely makes. */
export const LINE_OPS: Record<string, ByteOp> = {
  dupLine(rng, buf) {
    const lines = buf.toString('latin1').split('\n');
    const i = rng.below(lines.length);
    lines.splice(rng.below(lines.length + 1), 0, lines[i]);
    return [Buffer.from(lines.join('\n'), 'latin1'), `dupLine${i}`];
  },
  deleteLine(rng, buf) {
    const lines = buf.toString('latin1').split('\n');
    const i = rng.below(lines.length);
    lines.splice(i, 1);
    return [Buffer.from(lines.join('\n'), 'latin1'), `deleteLine${i}`];
  },
  swapLines(rng, buf) {
    const lines = buf.toString('latin1').split('\n');
    const i = rng.below(lines.length);
    const j = rng.below(lines.length);
    [lines[i], lines[j]] = [lines[j], lines[i]];
    return [Buffer.from(lines.join('\n'), 'latin1'), `swapLines${i},${j}`];
  },
  indentLine(rng, buf) {
    const lines = buf.toString('latin1').split('\n');
    const i = rng.below(lines.length);
    const how = rng.pick(['  ', ' ', '\t', '-', '']);
    lines[i] = how === '' ? lines[i].trimStart() : how + lines[i];
    return [Buffer.from(lines.join('\n'), 'latin1'), `indent${i}=${JSON.stringify(how)}`];
  },
  insertToken(rng, buf) {
    const text = buf.toString('latin1');
    const at = rng.below(text.length + 1);
    const token = rng.pick([':', ': ', '\n', '\n\n', '\r', '\r\n', '\t', '\0', '#', '- ', '{', '[', '&a ', '*a', '!!binary ', '"', "'", '\\', '|', '>', '%', '@', '\u00ff', '\n ', '\n .', ': :', '<<: *a']);
    return [Buffer.from(text.slice(0, at) + token + text.slice(at), 'latin1'), `token@${at}=${JSON.stringify(token)}`];
  },
  longLine(rng, buf) {
    const text = buf.toString('latin1');
    const at = rng.below(text.length + 1);
    const filler = rng.pick(['a', ' ', '9', '[', '{', '- ', ',']).repeat(rng.pick([1000, 100000, 1 << 20]));
    return [Buffer.from(text.slice(0, at) + filler + text.slice(at), 'latin1'), `long@${at}x${filler.length}`];
  },
  spliceLines(rng, buf, donors) {
    const lines = buf.toString('latin1').split('\n');
    const donor = (donors.length ? rng.pick(donors) : buf).toString('latin1').split('\n');
    const a = rng.below(donor.length);
    const len = rng.between(1, Math.min(20, donor.length - a));
    const at = rng.below(lines.length + 1);
    lines.splice(at, rng.chance(0.5) ? len : 0, ...donor.slice(a, a + len));
    return [Buffer.from(lines.join('\n'), 'latin1'), `spliceLines[${a}+${len}]@${at}`];
  },
};

/** Apply 1..maxOps operators drawn from `ops` (weighted by repetition in the list). */
export function mutateWith(rng: Prng, input: Buffer, donors: Buffer[], ops: [string, ByteOp][], maxOps = 4): Mutated {
  let bytes = input;
  const done: string[] = [];
  const n = rng.chance(0.6) ? 1 : rng.between(2, maxOps);
  for (let i = 0; i < n; i++) {
    const [name, op] = rng.pick(ops);
    const [next, what] = op(rng, bytes, donors);
    bytes = next;
    done.push(what || name);
  }
  return { bytes, ops: done };
}

export const GENERIC_BYTE_OPS: [string, ByteOp][] = Object.entries(BYTE_OPS);
export const TEXT_OPS: [string, ByteOp][] = [
  ...Object.entries(BYTE_OPS),
  ...Object.entries(LINE_OPS),
  ['numericText', BYTE_OPS.numericText],
  ['numericText', BYTE_OPS.numericText],
];
