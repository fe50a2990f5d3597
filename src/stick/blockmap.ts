import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { writeFileAtomically } from '../util/atomic.js';

/**
 * stick.img.bmap.json (shared contract with `obsbuild flash`, which reads it with src/flash/bmap.ts):
 * { version: 1, imageSize, blockSize: 4096, imageSha256, ranges: [{ start, length, sha256 }] }.
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

export interface StickBlockMap {
  version: 1;
  imageSize: number;
  blockSize: number;
  imageSha256: string;
  ranges: { start: number; length: number; sha256: string }[];
}

export function blockMapFileFor(image: string): string {
  return `${image}.bmap.json`;
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
export async function computeBlockMap(image: string, mustInclude: readonly ByteRange[] = []): Promise<StickBlockMap> {
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
    const ranges: StickBlockMap['ranges'] = [];
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
    return { version: 1, imageSize, blockSize, imageSha256: imageHash.digest('hex'), ranges };
  } finally {
    await fh.close();
  }
}

/** Computes and writes `<image>.bmap.json` atomically; returns the map. */
export async function writeBlockMap(image: string, mustInclude: readonly ByteRange[] = []): Promise<StickBlockMap> {
  const map = await computeBlockMap(image, mustInclude);
  await writeFileAtomically(blockMapFileFor(image), JSON.stringify(map, null, 2) + '\n');
  return map;
}
