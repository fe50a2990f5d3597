import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import * as zlib from 'node:zlib';
import { UserError } from '../util/errors.js';
import { KernelVersionScanner } from './kernelversion.js';

/**
 * The U-Boot legacy image format (include/image.h, common/image.c): a 64-byte big-endian header, then
 * the payload; a multi-file image's payload starts with a 0-terminated table of u32 part lengths and
 * each part starts on a 4-byte boundary. All knowledge of the format lives here.
 */

/** IEEE CRC-32 as U-Boot uses it: zlib's (Node >= 20.15), else a table-driven fallback. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(data: Uint8Array, value = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  return native ? native(data, value) >>> 0 : crc32Portable(data, value);
}
export function crc32Portable(data: Uint8Array, value = 0): number {
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const UIMAGE_MAGIC = 0x27051956;
export const UIMAGE_HEADER_SIZE = 64;
export const FDT_MAGIC = 0xd00dfeed;

export const IH_OS: Record<number, string> = {
  0: 'Invalid OS', 1: 'OpenBSD', 2: 'NetBSD', 3: 'FreeBSD', 4: '4_4BSD', 5: 'Linux', 6: 'SVR4', 7: 'Esix',
  8: 'Solaris', 9: 'Irix', 10: 'SCO', 11: 'Dell', 12: 'NCR', 13: 'LynxOS', 14: 'VxWorks', 15: 'pSOS',
  16: 'QNX', 17: 'U-Boot', 18: 'RTEMS', 19: 'ARTOS', 20: 'Unity OS', 21: 'INTEGRITY', 22: 'OSE', 23: 'Plan 9',
  24: 'OpenRTOS', 25: 'ARM Trusted Firmware', 26: 'Trusted Execution Environment', 27: 'OpenSBI', 28: 'EFI Firmware',
};
export const IH_ARCH: Record<number, string> = {
  0: 'Invalid ARCH', 1: 'Alpha', 2: 'ARM', 3: 'Intel x86', 4: 'IA64', 5: 'MIPS', 6: 'MIPS 64 Bit', 7: 'PowerPC',
  8: 'IBM S390', 9: 'SuperH', 10: 'SPARC', 11: 'SPARC 64 Bit', 12: 'M68K', 14: 'MicroBlaze', 15: 'NIOS II',
  16: 'Blackfin', 17: 'AVR32', 18: 'STMicroelectronics ST200', 19: 'Sandbox', 20: 'NDS32', 21: 'OpenRISC 1000',
  22: 'AArch64', 23: 'ARC', 24: 'AMD x86_64', 25: 'Xtensa', 26: 'RISC-V',
};
export const IH_TYPE: Record<number, string> = {
  0: 'Invalid Image', 1: 'Standalone Program', 2: 'Kernel Image', 3: 'RAMDisk Image', 4: 'Multi-File Image',
  5: 'Firmware', 6: 'Script File', 7: 'Filesystem Image', 8: 'Flat Device Tree',
};
export const IH_COMP: Record<number, string> = {
  0: 'uncompressed', 1: 'gzip compressed', 2: 'bzip2 compressed', 3: 'lzma compressed', 4: 'lzo compressed',
  5: 'lz4 compressed', 6: 'zstd compressed',
};
export const IH_OS_LINUX = 5;
export const IH_ARCH_PPC = 7;
export const IH_TYPE_KERNEL = 2;
export const IH_TYPE_MULTI = 4;
export const IH_COMP_GZIP = 1;

export interface UImageHeader {
  magic: number;
  headerCrc: number;
  /** Creation time, Unix seconds. */
  time: number;
  dataSize: number;
  load: number;
  entry: number;
  dataCrc: number;
  os: number;
  arch: number;
  type: number;
  comp: number;
  name: string;
  osName: string;
  archName: string;
  typeName: string;
  compName: string;
}

export type PartRole = 'kernel' | 'ramdisk' | 'device tree' | 'extra';

export interface UImagePart {
  index: number;
  role: PartRole;
  /** Offset of the part in the file. */
  offset: number;
  size: number;
  /** What the first bytes say: gzip, fdt, or unknown. */
  content: 'gzip' | 'fdt' | 'other';
  /** For a device tree: fdt_totalsize from its header. */
  fdtTotalSize?: number;
}

export interface UImageReport {
  file: string;
  size: number;
  sha256: string;
  header: UImageHeader;
  parts: UImagePart[];
  /** The release the kernel reports (`uname -r`), from its banner, else from the image name. */
  kernelVersion?: string;
  kernelVersionSource?: 'kernel' | 'name';
  warnings: string[];
}

/** Parse the 64-byte header; throws on a wrong magic or header CRC. */
export function parseUImageHeader(buf: Buffer, label: string): UImageHeader {
  if (buf.length < UIMAGE_HEADER_SIZE) {
    throw new UserError(`${label}: only ${buf.length} bytes, too short for a U-Boot image header (64 bytes)`, { code: 'input-invalid' });
  }
  const magic = buf.readUInt32BE(0);
  if (magic !== UIMAGE_MAGIC) {
    throw new UserError(
      `${label}: not a U-Boot image (magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x27051956)`,
      { code: 'input-invalid' },
    );
  }
  const headerCrc = buf.readUInt32BE(4);
  const zeroed = Buffer.from(buf.subarray(0, UIMAGE_HEADER_SIZE));
  zeroed.writeUInt32BE(0, 4);
  const computed = crc32(zeroed) >>> 0;
  if (computed !== headerCrc) {
    throw new UserError(
      `${label}: bad U-Boot header CRC (stored 0x${hex(headerCrc)}, computed 0x${hex(computed)}): the file is damaged`,
      { code: 'input-invalid' },
    );
  }
  const nameBytes = buf.subarray(32, 64);
  const nul = nameBytes.indexOf(0);
  const name = nameBytes.subarray(0, nul < 0 ? 32 : nul).toString('latin1');
  const os = buf[28];
  const arch = buf[29];
  const type = buf[30];
  const comp = buf[31];
  return {
    magic,
    headerCrc,
    time: buf.readUInt32BE(8),
    dataSize: buf.readUInt32BE(12),
    load: buf.readUInt32BE(16),
    entry: buf.readUInt32BE(20),
    dataCrc: buf.readUInt32BE(24),
    os,
    arch,
    type,
    comp,
    name,
    osName: IH_OS[os] ?? `Unknown OS ${os}`,
    archName: IH_ARCH[arch] ?? `Unknown Architecture ${arch}`,
    typeName: IH_TYPE[type] ?? `Unknown Image ${type}`,
    compName: IH_COMP[comp] ?? `Unknown Compression ${comp}`,
  };
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Plain Number arithmetic: part sizes go up to 2^32 - 1, where 32-bit bitwise operators wrap. */
const align4 = (n: number) => n + ((4 - (n % 4)) % 4);

/** Parts in a multi-file image: boards boot kernel + ramdisk + device tree; no real table holds more. */
export const MAX_UIMAGE_PARTS = 16;

/** "OBS600 2.6.29-obs600" → 2.6.29-obs600; "Linux-2.6.29" → 2.6.29. */
export function kernelVersionFromName(name: string): string | undefined {
  return /(\d+\.\d+(?:\.\d+)*(?:[-+~][\w.+~-]*)?)/.exec(name)?.[1];
}

function partRole(index: number, count: number): PartRole {
  if (index === 0) return 'kernel';
  if (count >= 3 && index === 1) return 'ramdisk';
  if (count >= 3 && index === 2) return 'device tree';
  if (count === 2 && index === 1) return 'ramdisk';
  return 'extra';
}

export interface UImageCheckOptions {
  /** U-Boot architecture code the image must be for; null skips the check. Default PowerPC (7). */
  expectArch?: number | null;
  /** Parts a multi-file image must hold for the board: 3 on the OBS600 (kernel, ramdisk, device tree). */
  expectParts?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * One streaming pass over a uImage: header, data CRC, part table, part magics, kernel release.
 * Throws UserError on a wrong magic, header CRC, data CRC, truncation, or a foreign OS/architecture.
 */
export async function inspectUImage(file: string, opts: UImageCheckOptions = {}): Promise<UImageReport> {
  const label = basename(file);
  const expectArch = opts.expectArch === undefined ? IH_ARCH_PPC : opts.expectArch;
  const expectParts = opts.expectParts ?? 3;
  let total: number;
  try {
    total = (await stat(file)).size;
  } catch (err) {
    throw new UserError(`${label}: cannot read the file (${(err as NodeJS.ErrnoException).code})`, { code: 'input-invalid', cause: err });
  }
  const warnings: string[] = [];
  const hash = createHash('sha256');
  let headerBuf = Buffer.alloc(0);
  let header: UImageHeader | undefined;
  let dataCrc = 0;
  let payloadSeen = 0;
  let fileOffset = 0;

  // Multi-file state: the size table, then part by part.
  let multi = false;
  // The table is read one u32 word at a time into a fixed buffer: linear in its length, bounded in memory.
  const word = Buffer.alloc(4);
  let wordFill = 0;
  let tableBytes = 0;
  const tableSizes: number[] = [];
  let sizes: number[] | undefined;
  const parts: UImagePart[] = [];
  const heads: Buffer[] = [];
  const scanner = new KernelVersionScanner();

  /** Route payload bytes at payload offset `pos` to the part they belong to. */
  const feedParts = async (chunk: Buffer, pos: number) => {
    while (chunk.length > 0) {
      if (!sizes) {
        if (!multi) {
          sizes = [header!.dataSize];
          layoutParts(0);
          continue;
        }
        // Size table: u32 words up to and including the terminating 0.
        const take = Math.min(4 - wordFill, chunk.length);
        chunk.copy(word, wordFill, 0, take);
        wordFill += take;
        chunk = chunk.subarray(take);
        pos += take;
        if (wordFill < 4) continue;
        wordFill = 0;
        tableBytes += 4;
        const size = word.readUInt32BE(0);
        if (size === 0) {
          sizes = tableSizes;
          layoutParts(tableBytes);
        } else if (tableSizes.length === MAX_UIMAGE_PARTS) {
          throw new UserError(`${label}: multi-file image whose part table lists more than ${MAX_UIMAGE_PARTS} parts (or lacks its 0 terminator)`, { code: 'input-invalid' });
        } else {
          tableSizes.push(size);
          if (tableBytes >= header!.dataSize) throw noTableEnd();
        }
        continue;
      }
      const part = parts.find((p) => pos >= p.offset - UIMAGE_HEADER_SIZE && pos < p.offset - UIMAGE_HEADER_SIZE + p.size);
      if (!part) {
        // Alignment padding or bytes after the last part.
        const next = parts.find((p) => p.offset - UIMAGE_HEADER_SIZE > pos);
        const skip = next ? Math.min(chunk.length, next.offset - UIMAGE_HEADER_SIZE - pos) : chunk.length;
        chunk = chunk.subarray(skip);
        pos += skip;
        continue;
      }
      const start = pos - (part.offset - UIMAGE_HEADER_SIZE);
      const take = Math.min(chunk.length, part.size - start);
      const piece = chunk.subarray(0, take);
      if (heads[part.index].length < 8) {
        heads[part.index] = Buffer.concat([heads[part.index], piece.subarray(0, 8 - heads[part.index].length)]);
      }
      if (part.index === 0) await scanner.write(piece);
      chunk = chunk.subarray(take);
      pos += take;
    }
  };

  const noTableEnd = () => new UserError(`${label}: multi-file image without the end of its part size table`, { code: 'input-invalid' });

  const layoutParts = (tableBytes: number) => {
    const list = sizes!;
    // Payload-relative; at most MAX_UIMAGE_PARTS sizes below 2^32 each, so the sums stay exact.
    let end = tableBytes;
    let needed = tableBytes;
    for (let i = 0; i < list.length; i++) {
      parts.push({ index: i, role: partRole(i, list.length), offset: UIMAGE_HEADER_SIZE + end, size: list[i], content: 'other' });
      heads.push(Buffer.alloc(0));
      needed = end + list[i];
      end += align4(list[i]);
    }
    if (needed > header!.dataSize) {
      throw new UserError(
        `${label}: the part sizes (${list.join(' + ')} bytes) do not fit in the ${header!.dataSize}-byte payload: the image is damaged`,
        { code: 'input-invalid' },
      );
    }
    if (list.length === 0) throw new UserError(`${label}: multi-file image whose part table lists no parts (no kernel)`, { code: 'input-invalid' });
    if (list[0] === 0) throw new UserError(`${label}: the kernel part of the multi-file image is 0 bytes`, { code: 'input-invalid' });
    if (end < header!.dataSize) warnings.push(`${label}: ${header!.dataSize - end} bytes after the last part`);
  };

  try {
    for await (const raw of createReadStream(file, { highWaterMark: 1 << 20 })) {
      let chunk = raw as Buffer;
      hash.update(chunk);
      fileOffset += chunk.length;
      opts.onProgress?.(fileOffset, total);
      if (!header) {
        const need = UIMAGE_HEADER_SIZE - headerBuf.length;
        headerBuf = Buffer.concat([headerBuf, chunk.subarray(0, need)]);
        chunk = chunk.subarray(need);
        if (headerBuf.length < UIMAGE_HEADER_SIZE) continue;
        header = parseUImageHeader(headerBuf, label);
        multi = header.type === IH_TYPE_MULTI;
        if (UIMAGE_HEADER_SIZE + header.dataSize > total) {
          throw new UserError(
            `${label}: truncated: the header announces ${header.dataSize} bytes of data, the file holds ${total - UIMAGE_HEADER_SIZE}`,
            { code: 'input-invalid' },
          );
        }
      }
      const payloadPart = chunk.subarray(0, Math.max(0, header.dataSize - payloadSeen));
      if (payloadPart.length > 0) {
        dataCrc = crc32(payloadPart, dataCrc);
        await feedParts(payloadPart, payloadSeen);
        payloadSeen += payloadPart.length;
      }
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${label}: cannot read the file (${(err as Error).message})`, { code: 'input-invalid', cause: err });
  } finally {
    await scanner.end();
  }
  if (!header) parseUImageHeader(headerBuf, label); // throws: too short
  const h = header!;
  if (h.dataSize === 0) throw new UserError(`${label}: the image holds no data (its header says 0 bytes): there is no kernel to boot`, { code: 'input-invalid' });
  if (!sizes) throw noTableEnd();
  dataCrc >>>= 0;
  if (dataCrc !== h.dataCrc) {
    throw new UserError(
      `${label}: bad U-Boot data CRC (stored 0x${hex(h.dataCrc)}, computed 0x${hex(dataCrc)}): the file is damaged`,
      { code: 'input-invalid' },
    );
  }
  if (total > UIMAGE_HEADER_SIZE + h.dataSize) {
    warnings.push(`${label}: ${total - UIMAGE_HEADER_SIZE - h.dataSize} bytes after the image data`);
  }
  if (h.os !== IH_OS_LINUX) throw new UserError(`${label}: a U-Boot image for ${h.osName}, not Linux`, { code: 'input-invalid' });
  if (expectArch !== null && h.arch !== expectArch) {
    throw new UserError(`${label}: a U-Boot image for ${h.archName}, not ${IH_ARCH[expectArch] ?? expectArch}`, { code: 'input-invalid' });
  }

  for (const part of parts) {
    const head = heads[part.index];
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) part.content = 'gzip';
    else if (head.length >= 8 && head.readUInt32BE(0) === FDT_MAGIC) {
      part.content = 'fdt';
      part.fdtTotalSize = head.readUInt32BE(4);
    }
  }
  if (h.type === IH_TYPE_MULTI) {
    if (parts.length !== expectParts) {
      const what = expectParts === 3 ? 'kernel + ramdisk + device tree (3)' : String(expectParts);
      warnings.push(`${label}: multi-file image with ${parts.length} parts; the board boots ${what}`);
    }
    const dtb = expectParts >= 3 ? parts[2] : undefined;
    if (dtb && dtb.content !== 'fdt') warnings.push(`${label}: part 2 (device tree) does not start with the FDT magic 0xd00dfeed`);
    if (dtb?.fdtTotalSize !== undefined && dtb.fdtTotalSize !== dtb.size) {
      warnings.push(`${label}: the device tree says it is ${dtb.fdtTotalSize} bytes but its part is ${dtb.size}: U-Boot rejects it`);
    }
    if (parts[1] && parts[1].content !== 'gzip') warnings.push(`${label}: part 1 (ramdisk) is not gzip-compressed`);
  } else if (h.type !== IH_TYPE_KERNEL) {
    warnings.push(`${label}: a ${h.typeName}, not a kernel or multi-file image`);
  }
  if (h.comp === IH_COMP_GZIP && parts[0] && parts[0].content !== 'gzip') {
    warnings.push(`${label}: the header says gzip but the kernel part does not start with the gzip magic`);
  }
  if (scanner.gzipError) warnings.push(`${label}: the kernel part does not decompress (${scanner.gzipError})`);

  const fromName = kernelVersionFromName(h.name);
  const fromKernel = scanner.version;
  if (fromKernel && fromName && fromKernel !== fromName && !fromKernel.startsWith(fromName)) {
    warnings.push(`${label}: the image name says ${fromName} but the kernel says ${fromKernel}; using ${fromKernel}`);
  }
  if (!fromKernel && !fromName) warnings.push(`${label}: no kernel version found (no "Linux version" banner, none in the name)`);
  return {
    file,
    size: total,
    sha256: hash.digest('hex'),
    header: h,
    parts,
    kernelVersion: fromKernel ?? fromName,
    kernelVersionSource: fromKernel ? 'kernel' : fromName ? 'name' : undefined,
    warnings,
  };
}
