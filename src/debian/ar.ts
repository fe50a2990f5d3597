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

/** List the members of an ar archive; throws ArFormatError on a bad magic or a member cut short. */
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
      const got = (await fh.read(header, 0, HEADER_SIZE, pos)).bytesRead;
      if (got < HEADER_SIZE) throw new ArFormatError(`truncated: member header at byte ${pos} is cut short`);
      if (header.toString('latin1', 58, 60) !== '`\n') throw new ArFormatError(`bad member header at byte ${pos}`);
      let name = header.toString('latin1', 0, 16).trimEnd();
      const size = Number.parseInt(header.toString('latin1', 48, 58).trim(), 10);
      const mode = Number.parseInt(header.toString('latin1', 40, 48).trim() || '0', 8);
      if (!Number.isFinite(size) || size < 0) throw new ArFormatError(`bad member size at byte ${pos}`);
      let offset = pos + HEADER_SIZE;
      let dataSize = size;
      if (name.startsWith('#1/')) {
        // BSD long name: stored at the start of the data.
        const nameLen = Number.parseInt(name.slice(3), 10);
        const nameBuf = Buffer.alloc(nameLen);
        await fh.read(nameBuf, 0, nameLen, offset);
        name = nameBuf.toString('utf8').replace(/\0+$/, '');
        offset += nameLen;
        dataSize -= nameLen;
      } else if (name.endsWith('/') && name !== '/' && name !== '//') {
        name = name.slice(0, -1); // GNU ar terminator
      }
      if (offset + dataSize > fileSize) {
        throw new ArFormatError(`truncated: member ${name} needs ${offset + dataSize - fileSize} more bytes`);
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
