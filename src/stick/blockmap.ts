import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { formatBlockMap, type BlockMap } from '../contracts/block-map.js';

/**
 * Which blocks of a stick image the block map (src/contracts/block-map.ts) lists.
 *
 * Used = any 4 KiB block holding a non-zero byte, plus the regions the filesystem builder names as
 * metadata that must be written even when all zero (a FAT, an empty inode bitmap, unused inode table
 * slots): left out, the stick would keep whatever old bytes were there.
 */
export const BMAP_BLOCK_SIZE = 4096;

export interface ByteRange {
  start: number;
  length: number;
}

/** One read of the image: its block map, and the sha256 of the whole image for SHA256SUMS. */
export interface StickScan {
  map: BlockMap;
  imageSha256: string;
}

/** Sorted, merged block indexes [first, last] covering the given byte ranges. */
function blocksOf(ranges: readonly ByteRange[], blockSize: number): [number, number][] {
  const spans = ranges
    .filter((r) => r.length > 0)
    .map((r): [number, number] => [Math.floor(r.start / blockSize), Math.floor((r.start + r.length - 1) / blockSize)])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
    else merged.push([s[0], s[1]]);
  }
  return merged;
}

/** One pass over the image: which blocks are used, the sha256 of each used range and of the image. */
export async function computeBlockMap(image: string, mustInclude: readonly ByteRange[] = []): Promise<StickScan> {
  const blockSize = BMAP_BLOCK_SIZE;
  const forced = blocksOf(mustInclude, blockSize);
  let forcedAt = 0;
  const isForced = (block: number): boolean => {
    while (forcedAt < forced.length && forced[forcedAt][1] < block) forcedAt++;
    return forcedAt < forced.length && forced[forcedAt][0] <= block;
  };

  const fh = await open(image, 'r');
  try {
    const imageSize = (await fh.stat()).size;
    const imageHash = createHash('sha256');
    const ranges: BlockMap['ranges'] = [];
    let current: { start: number; length: number; hash: Hash } | undefined;
    const close = (): void => {
      if (current) ranges.push({ start: current.start, length: current.length, sha256: current.hash.digest('hex') });
      current = undefined;
    };
    const chunk = Buffer.alloc(256 * blockSize);
    const zero = Buffer.alloc(blockSize);
    let pos = 0;
    while (pos < imageSize) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, imageSize - pos), pos);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      imageHash.update(data);
      for (let off = 0; off < bytesRead; off += blockSize) {
        const block = data.subarray(off, Math.min(off + blockSize, bytesRead));
        const at = pos + off;
        const used = isForced(at / blockSize) || !block.equals(zero.subarray(0, block.length));
        if (used) {
          if (!current) current = { start: at, length: 0, hash: createHash('sha256') };
          current.hash.update(block);
          current.length += block.length;
        } else {
          close();
        }
      }
      pos += bytesRead;
    }
    close();
    return { map: { imageSize, blockSize, ranges }, imageSha256: imageHash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/** The map as the file `obsbuild image` writes next to the image. */
export function blockMapText(scan: StickScan): string {
  return formatBlockMap(scan.map);
}
