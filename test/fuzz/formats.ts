/**
 * Format-aware mutations: a random flip in a uImage or tar header is almost always caught by its
 * checksum, so these edit header fields on purpose and then (sometimes) repair the checksums, to reach
 * the code behind them. Also a minimal ar/ustar writer to wrap a mutated control file in a .deb.
 */
import { crc32 } from '../../src/inputs/uimage.js';
import { arArchive as writeAr } from '../helpers/ar.js';
import type { Prng } from './prng.js';
import { editNumber, INTERESTING_U32 } from './mutate.js';

// ---- uImage ---------------------------------------------------------------------------------------

const UIMAGE_FIELDS: [string, number][] = [
  ['size', 12], ['load', 16], ['entry', 20], ['dcrc', 24], ['time', 8],
];

/** Edit one header field (size, os/arch/type/comp byte, name) or one multi-file table entry. */
export function uimageFieldEdit(rng: Prng, buf: Buffer): [Buffer, string] {
  const out = Buffer.from(buf);
  if (out.length < 64) return [out, 'uimage-field(skip)'];
  const dataSize = out.readUInt32BE(12);
  switch (rng.below(4)) {
    case 0: {
      const [name, at] = rng.pick(UIMAGE_FIELDS);
      const v = rng.chance(0.4) ? (dataSize + rng.between(-8, 8)) >>> 0 : rng.pick(INTERESTING_U32);
      out.writeUInt32BE(v >>> 0, at);
      return [out, `uimage.${name}=0x${(v >>> 0).toString(16)}`];
    }
    case 1: {
      const at = rng.between(28, 31);
      const v = rng.pick([0, 1, 2, 3, 4, 5, 7, 8, 0x7f, 0xff]);
      out[at] = v;
      return [out, `uimage.byte${at}=${v}`];
    }
    case 2: {
      out.fill(rng.pick([0x41, 0xff, 0x00]), 32, 32 + rng.between(1, 32));
      return [out, 'uimage.name'];
    }
    default: {
      // Multi-file part table: u32 sizes after the header, 0-terminated.
      const entries = Math.min(4, Math.floor((out.length - 64) / 4));
      if (entries === 0) return [out, 'uimage.table(skip)'];
      const i = rng.below(entries);
      const old = out.readUInt32BE(64 + 4 * i);
      const v = rng.chance(0.5) ? (old + rng.pick([1, -1, 4, -4, 3, 1 << 20])) >>> 0 : rng.pick(INTERESTING_U32);
      out.writeUInt32BE(v, 64 + 4 * i);
      return [out, `uimage.part${i}=0x${v.toString(16)}`];
    }
  }
}

/** Recompute the data CRC over the announced payload (clipped to the file) and then the header CRC. */
export function fixUImageCrcs(buf: Buffer, data: boolean, header: boolean): Buffer {
  if (buf.length < 64) return buf;
  const out = Buffer.from(buf);
  if (data) {
    const size = out.readUInt32BE(12);
    out.writeUInt32BE(crc32(out.subarray(64, 64 + Math.min(size, out.length - 64))) >>> 0, 24);
  }
  if (header) {
    out.writeUInt32BE(0, 4);
    out.writeUInt32BE(crc32(out.subarray(0, 64)) >>> 0, 4);
  }
  return out;
}

// ---- tar ------------------------------------------------------------------------------------------

/** Offsets of the header blocks of a tar stream (walking the sizes as the original says). */
export function tarHeaderOffsets(tarBytes: Buffer): number[] {
  const offsets: number[] = [];
  let p = 0;
  while (p + 512 <= tarBytes.length) {
    const block = tarBytes.subarray(p, p + 512);
    if (block.every((b) => b === 0)) break;
    offsets.push(p);
    const size = parseInt(block.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
    p += 512 + Math.ceil((Number.isFinite(size) ? size : 0) / 512) * 512;
  }
  return offsets;
}

const TAR_FIELDS: [string, number, number][] = [
  ['name', 0, 100], ['mode', 100, 8], ['uid', 108, 8], ['gid', 116, 8], ['size', 124, 12], ['mtime', 136, 12],
  ['type', 156, 1], ['linkname', 157, 100], ['magic', 257, 8], ['uname', 265, 32], ['devmajor', 329, 8], ['prefix', 345, 155],
];

/** Edit one field of one header: sizes in octal or base-256, type flags, names with `..`, long links. */
export function tarFieldEdit(rng: Prng, tarBytes: Buffer, offsets: number[]): [Buffer, string] {
  const out = Buffer.from(tarBytes);
  if (offsets.length === 0) return [out, 'tar-field(skip)'];
  const h = rng.pick(offsets);
  const [name, at, len] = rng.chance(0.4) ? TAR_FIELDS[4] : rng.pick(TAR_FIELDS);
  const field = out.subarray(h + at, h + at + len);
  let what: string;
  switch (name) {
    case 'type':
      field[0] = rng.pick([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x4c, 0x4b, 0x78, 0x67, 0x53, 0x56, 0x00, 0xff]);
      what = `type=${field[0]}`;
      break;
    case 'name':
    case 'linkname':
    case 'prefix':
      field.fill(0);
      field.write(rng.pick(['../../etc/passwd', '/abs/path', './', '', 'a'.repeat(len), '././@LongLink', 'lib/modules/x/../../..', '\xff\xfe']).slice(0, len), 'latin1');
      what = `${name}=…`;
      break;
    case 'size':
    case 'mode':
    case 'uid':
    case 'devmajor':
    case 'mtime':
      if (rng.chance(0.3)) {
        // GNU base-256: high bit set, big-endian binary.
        field.fill(rng.pick([0x00, 0xff]));
        field[0] = 0x80 | (field[0] & 0x7f);
        field[len - 1] = rng.below(256);
        what = `${name}=base256`;
      } else {
        const [edited, desc] = editNumber(rng, out, h + at, h + at + len - 1, true);
        edited.copy(out);
        what = `${name}:${desc}`;
      }
      break;
    default:
      field.fill(rng.pick([0x00, 0x20, 0x41]));
      what = `${name}=fill`;
  }
  return [out, `tar@${h}.${what}`];
}

/** Rewrite the checksum field of every header block the original had (ustar rule: field counted as spaces). */
export function fixTarChecksums(tarBytes: Buffer, offsets: number[]): Buffer {
  const out = Buffer.from(tarBytes);
  for (const h of offsets) {
    if (h + 512 > out.length) continue;
    out.fill(0x20, h + 148, h + 156);
    let sum = 0;
    for (let i = h; i < h + 512; i++) sum += out[i];
    out.write(`${sum.toString(8).padStart(6, '0')}\0 `, h + 148, 'latin1');
  }
  return out;
}

// ---- ar -------------------------------------------------------------------------------------------

/** Header offsets of the members of an ar archive (as the original lays them out). */
export function arHeaderOffsets(ar: Buffer): { header: number; data: number; size: number }[] {
  const out: { header: number; data: number; size: number }[] = [];
  let p = 8;
  while (p + 60 <= ar.length) {
    const size = parseInt(ar.toString('latin1', p + 48, p + 58).trim(), 10);
    if (!Number.isFinite(size)) break;
    out.push({ header: p, data: p + 60, size });
    p += 60 + size + (size % 2);
  }
  return out;
}

/** Edit one ar member header field: size, name (incl. BSD `#1/N` long names), mode, the "`\n" magic. */
export function arFieldEdit(rng: Prng, ar: Buffer, members: { header: number }[]): [Buffer, string] {
  const out = Buffer.from(ar);
  if (members.length === 0) return [out, 'ar-field(skip)'];
  const h = rng.pick(members).header;
  switch (rng.below(5)) {
    case 0:
    case 1: {
      const [edited, desc] = editNumber(rng, out, h + 48, h + 58, true);
      return [edited, `ar@${h}.size:${desc}`];
    }
    case 2: {
      const name = rng.pick(['#1/20', '#1/99999999', '#1/-5', '#1/0', 'data.tar.xz/', 'control.tar/', '/', '//', 'debian-binary', 'data.tar.bz2', 'data.tar.lzma', 'control.tar.zst']);
      out.write(name.padEnd(16, ' ').slice(0, 16), h, 'latin1');
      return [out, `ar@${h}.name=${name}`];
    }
    case 3: {
      const [edited, desc] = editNumber(rng, out, h + 40, h + 48, true);
      return [edited, `ar@${h}.mode:${desc}`];
    }
    default:
      out.write(rng.pick(['` ', '\n`', '\0\0']), h + 58, 'latin1');
      return [out, `ar@${h}.magic`];
  }
}

/** The fuzz fixtures' ar headers carry lenny's release time, as dpkg-deb would write it. */
export function arArchive(members: [string, Buffer][]): Buffer {
  return writeAr(members, '1263859200');
}

function ustarHeader(name: string, size: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'latin1');
  h.write(type === '5' ? '0000755\0' : '0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('11327305400\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  h.write('root', 265, 'latin1');
  h.write('root', 297, 'latin1');
  return fixTarChecksums(h, [0]);
}

/** An uncompressed ustar with `./` and the given files, ended by two zero blocks. */
export function ustar(files: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [ustarHeader('./', 0, '5')];
  for (const [name, data] of files) {
    parts.push(ustarHeader(name, data.length, '0'), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A .deb holding `control` as its DEBIAN/control, and an empty data.tar. */
export function debWithControl(control: Buffer): Buffer {
  return arArchive([
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar', ustar([['./control', control]])],
    ['data.tar', ustar([])],
  ]);
}
