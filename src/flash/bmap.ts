import { readFile, stat } from 'node:fs/promises';
import { UserError } from '../util/errors.js';

/**
 * The stick block map (`stick.img.bmap.json`, written next to `stick.img` by `obsbuild image`):
 * the byte ranges of the image that hold data. Everything outside them is free space the
 * flasher may skip. This module is the flasher's only knowledge of that format.
 */
export interface BlockRange {
  /** byte offset in the image (and on the target) */
  start: number;
  length: number;
  /** sha256 of the bytes in the range; undefined until computed when the image has no map */
  sha256?: string;
}

export interface BlockMap {
  version: 1;
  imageSize: number;
  blockSize: number;
  imageSha256?: string;
  ranges: BlockRange[];
}

export function blockMapPathFor(image: string): string {
  return `${image}.bmap.json`;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Reads and checks a block map against its image: ranges sorted, not overlapping, inside the
 * image, each with a sha256. A map that does not fit the image is a stale map: refuse it rather
 * than write the wrong bytes.
 */
export async function readBlockMap(mapFile: string, image: string): Promise<BlockMap> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(mapFile, 'utf8'));
  } catch (err) {
    throw new UserError(`${mapFile}: not a readable block map (${(err as Error).message}); nothing was written`, { code: 'input-invalid', cause: err });
  }
  const fail = (msg: string): never => {
    throw new UserError(`${mapFile}: ${msg}; nothing was written`, { code: 'input-invalid' });
  };
  const m = raw as Partial<BlockMap> | null;
  if (!m || typeof m !== 'object') fail('not a JSON object');
  if (m!.version !== 1) fail(`unsupported version ${JSON.stringify(m!.version)} (expected 1)`);
  if (!isCount(m!.imageSize)) fail('imageSize is not a byte count');
  if (!isCount(m!.blockSize) || m!.blockSize === 0) fail('blockSize is not a positive byte count');
  if (!Array.isArray(m!.ranges)) fail('ranges is not a list');
  const size = (await stat(image)).size;
  if (size !== m!.imageSize) {
    fail(`imageSize ${m!.imageSize} does not match ${image} (${size} bytes): the map is stale, rebuild the image`);
  }
  let end = 0;
  const ranges: BlockRange[] = m!.ranges!.map((r, i) => {
    const at = `ranges[${i}]`;
    if (!r || !isCount(r.start) || !isCount(r.length) || r.length === 0) fail(`${at} needs a start and a positive length`);
    if (typeof r.sha256 !== 'string' || !HEX64.test(r.sha256)) fail(`${at} has no sha256`);
    if (r.start < end) fail(`${at} (start ${r.start}) overlaps or is out of order`);
    if (r.start + r.length > size) fail(`${at} ends at ${r.start + r.length}, past the image end ${size}`);
    end = r.start + r.length;
    return { start: r.start, length: r.length, sha256: r.sha256 };
  });
  if (ranges.length === 0) fail('lists no ranges: a stick image has at least its partition table; rebuild the image');
  if (m!.imageSha256 !== undefined && (typeof m!.imageSha256 !== 'string' || !HEX64.test(m!.imageSha256))) fail('imageSha256 is not a sha256 (64 hex digits)');
  return { version: 1, imageSize: size, blockSize: m!.blockSize!, imageSha256: m!.imageSha256, ranges };
}

/** For an image without a map: one range covering everything (hash computed while reading). */
export function wholeImageMap(imageSize: number): BlockMap {
  return { version: 1, imageSize, blockSize: 4096, ranges: imageSize > 0 ? [{ start: 0, length: imageSize }] : [] };
}

export function mappedBytes(map: { ranges: BlockRange[] }): number {
  return map.ranges.reduce((n, r) => n + r.length, 0);
}

/**
 * Parts of [start, end) not covered by the (sorted) ranges. Used to find which bytes of the
 * signature areas the image leaves alone and must be cleared.
 */
export function uncovered(start: number, end: number, ranges: readonly { start: number; length: number }[]): { start: number; length: number }[] {
  const gaps: { start: number; length: number }[] = [];
  let pos = start;
  for (const r of ranges) {
    const rEnd = r.start + r.length;
    if (rEnd <= pos) continue;
    if (r.start >= end) break;
    if (r.start > pos) gaps.push({ start: pos, length: r.start - pos });
    pos = Math.max(pos, rEnd);
    if (pos >= end) break;
  }
  if (pos < end) gaps.push({ start: pos, length: end - pos });
  return gaps;
}
