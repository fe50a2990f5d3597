import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import type { BlockMap, BlockRange } from './bmap.js';
import { identityOf, sameImage, type ImageIdentity } from './image-identity.js';
import { CHUNK, describeRange, readFully, streamRanges } from './write.js';

/**
 * Whether an image (and its block map) can describe a real stick, decided before anything is
 * written: a refusal after the first write would leave the user a stick that is neither the old
 * one nor the new one. One read of the whole image hashes every mapped range, checks that the
 * bytes the map leaves out are zero (so no byte can change unnoticed: a whole-image hash would add
 * nothing). This is the only time the image is hashed: the flash that follows reads the same file
 * again and holds it to the identity recorded here (see ImageIdentity) instead of hashing it twice.
 */

const SECTOR = 512;
const NOTHING_WRITTEN = 'nothing was written';

/** The MBR's checks: boot signature, at least one partition, every partition inside the image. */
export function mbrProblem(sector0: Buffer, imageSize: number): string | undefined {
  if (sector0.length < SECTOR || sector0[510] !== 0x55 || sector0[511] !== 0xaa) {
    return 'has no partition table (no MBR boot signature 55 AA at bytes 510–511)';
  }
  const sectors = Math.floor(imageSize / SECTOR);
  let partitions = 0;
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    const type = sector0[e + 4];
    const first = sector0.readUInt32LE(e + 8);
    const count = sector0.readUInt32LE(e + 12);
    if (type === 0 && count === 0) continue;
    if (type === 0 || count === 0) return `has a malformed MBR entry ${i + 1} (type ${type}, ${count} sectors)`;
    if (first === 0 || first + count > sectors) {
      return `has partition ${i + 1} at sectors ${first}–${first + count - 1}, outside the image's ${sectors} sectors (truncated image?)`;
    }
    partitions++;
  }
  return partitions === 0 ? 'has an MBR that lists no partition' : undefined;
}

/** A checked image: its map with every range's sha256 set, and what the file was when its bytes were checked. */
export interface CheckedImage {
  map: BlockMap;
  identity: ImageIdentity;
}

function firstNonZero(buf: Buffer): number {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return i;
  return -1;
}

/**
 * Refuses an image that cannot be a stick and returns the map with every range's sha256 set (an
 * image without a map is hashed here, so the write does not have to) and the file's identity.
 */
export async function checkImage(image: string, map: BlockMap): Promise<CheckedImage> {
  const refuse = (problem: string): never => {
    throw new UserError(`${image} ${problem}; ${NOTHING_WRITTEN}`, { code: 'input-invalid' });
  };
  const size = map.imageSize;
  if (size === 0) refuse('is empty (0 bytes): not a stick image; rebuild it');
  if (size % SECTOR !== 0) refuse(`is ${size} bytes, not a whole number of 512-byte sectors: not a disk image (truncated?); rebuild it`);
  if (map.ranges.length === 0 || map.ranges[0].start !== 0) {
    refuse('has a block map that leaves out the partition table (bytes 0–511): the map is damaged; rebuild the image');
  }

  const fh: FileHandle = await open(image, 'r');
  try {
    const identity = await identityOf(fh);
    if (identity.size !== BigInt(size)) refuse(`is ${identity.size} bytes, its block map says ${size}: the map is stale; rebuild the image`);
    const sector0 = Buffer.alloc(SECTOR);
    await readFully(fh, sector0, SECTOR, 0);
    const mbr = mbrProblem(sector0, size);
    if (mbr) refuse(`${mbr}: not a stick image; rebuild it`);

    const zero = Buffer.alloc(CHUNK);
    const ranges: BlockRange[] = map.ranges.map((r) => ({ ...r }));
    let ri = 0;
    let rangeHash = createHash('sha256');
    await streamRanges(fh, [{ start: 0, length: size }], (buf, c) => {
      const data = buf.subarray(0, c.length);
      const end = c.start + c.length;
      let pos = c.start;
      while (pos < end) {
        const r = ranges[ri] as BlockRange | undefined;
        if (!r || pos < r.start) {
          // a gap: the stick keeps whatever is there, so the image must have nothing there either
          const gapEnd = Math.min(end, r ? r.start : size);
          const gap = data.subarray(pos - c.start, gapEnd - c.start);
          if (!gap.equals(zero.subarray(0, gap.length))) {
            refuse(`has data at byte ${pos + firstNonZero(gap)} that its block map leaves out: the map is stale; rebuild the image and flash again`);
          }
          pos = gapEnd;
          continue;
        }
        const partEnd = Math.min(end, r.start + r.length);
        rangeHash.update(data.subarray(pos - c.start, partEnd - c.start));
        pos = partEnd;
        if (pos === r.start + r.length) {
          const digest = rangeHash.digest('hex');
          if (r.sha256 === undefined) r.sha256 = digest;
          else if (digest !== r.sha256) {
            refuse(`does not match its block map at ${describeRange(r)}: the image or its map is damaged; rebuild the image and flash again`);
          }
          rangeHash = createHash('sha256');
          ri++;
        }
      }
    });
    // a change while it was read would make the hashes above describe neither the old file nor the new one
    if (!sameImage(identity, await identityOf(fh))) refuse('changed while it was being checked (another program is writing it?); run the command again');
    return { map: { ...map, ranges }, identity };
  } finally {
    await fh.close();
  }
}
