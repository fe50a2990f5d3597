/**
 * The Unix `ar` archive format as used by .deb files: "!<arch>\n", then members with a 60-byte header
 * (name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic "`\n"), data padded to an even length.
 * Members are located with small positional reads and then streamed, so a package is never loaded whole.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

export interface ArMember {
  name: string;
  /** Byte offset of the member's data in the archive file. */
  offset: number;
  size: number;
  mode: number;
}

export class ArFormatError extends Error {}

const GLOBAL_MAGIC = '!<arch>\n';
const HEADER_SIZE = 60;
/** A .deb holds debian-binary, control.tar, data.tar and maybe a few signature members. */
export const MAX_AR_MEMBERS = 16;
/** BSD long names ("#1/<len>"): a member name is a file name, never longer than NAME_MAX. */
const MAX_BSD_NAME = 255;

/** A decimal header field: digits only (no sign, no exponent), else undefined. */
function decimalField(header: Buffer, start: number, end: number): number | undefined {
  const text = header.toString('latin1', start, end).trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * List the members of an ar archive; throws ArFormatError on a bad magic, a member cut short, or a
 * declared size larger than the bytes left in the file. Nothing is allocated by a declared size.
 */
export async function listArMembers(file: string): Promise<ArMember[]> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const magic = Buffer.alloc(8);
    const { bytesRead } = await fh.read(magic, 0, 8, 0);
    if (bytesRead < 8 || magic.toString('latin1') !== GLOBAL_MAGIC) throw new ArFormatError('not an ar archive (bad magic)');
    const members: ArMember[] = [];
    let pos = 8;
    const header = Buffer.alloc(HEADER_SIZE);
    while (pos < fileSize) {
      if (pos === fileSize - 1) break; // tolerate a final padding byte
      if (members.length === MAX_AR_MEMBERS) throw new ArFormatError(`more than ${MAX_AR_MEMBERS} members, which no .deb has`);
      const got = (await fh.read(header, 0, HEADER_SIZE, pos)).bytesRead;
      if (got < HEADER_SIZE) throw new ArFormatError(`truncated: member header at byte ${pos} is cut short`);
      if (header.toString('latin1', 58, 60) !== '`\n') throw new ArFormatError(`bad member header at byte ${pos}`);
      let name = header.toString('latin1', 0, 16).trimEnd();
      if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1); // GNU ar terminator
      const size = decimalField(header, 48, 58);
      const mode = Number.parseInt(header.toString('latin1', 40, 48).trim() || '0', 8) || 0;
      if (size === undefined) throw new ArFormatError(`bad member size at byte ${pos}`);
      let offset = pos + HEADER_SIZE;
      const left = fileSize - offset;
      if (size > left) throw new ArFormatError(`truncated: member ${name} needs ${size - left} more bytes`);
      let dataSize = size;
      if (name.startsWith('#1/')) {
        // BSD long name: stored at the start of the data.
        const nameLen = /^\d+$/.test(name.slice(3)) ? Number(name.slice(3)) : NaN;
        if (!(nameLen <= MAX_BSD_NAME) || nameLen > size) throw new ArFormatError(`bad long member name length at byte ${pos}`);
        const nameBuf = Buffer.alloc(nameLen);
        await fh.read(nameBuf, 0, nameLen, offset);
        name = nameBuf.toString('utf8').replace(/\0+$/, '');
        offset += nameLen;
        dataSize -= nameLen;
      }
      members.push({ name, offset, size: dataSize, mode });
      pos = pos + HEADER_SIZE + size + (size % 2);
    }
    return members;
  } finally {
    await fh.close();
  }
}

export function openArMember(file: string, member: ArMember): Readable {
  if (member.size === 0) return Readable.from([]);
  return createReadStream(file, { start: member.offset, end: member.offset + member.size - 1 });
}
