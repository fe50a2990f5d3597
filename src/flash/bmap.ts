import { readFile, stat } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { BMAP_MAX_BYTES, parseBlockMap, type BlockMap, type BlockRange } from '../contracts/block-map.js';

/**
 * The flasher's side of the stick block map (`stick.img.bmap`, bmaptool's format, written next to
 * `stick.img` by `obsbuild image`; the format itself is src/contracts/block-map.ts): reading it against
 * its image, and the range arithmetic the writer needs.
 */
export { blockMapPathFor, type BlockMap, type BlockRange } from '../contracts/block-map.js';

/**
 * Reads and checks a block map against its image. A map that does not fit the image is a stale map:
 * refuse it rather than write the wrong bytes.
 */
export async function readBlockMap(mapFile: string, image: string): Promise<BlockMap> {
  const fail = (msg: string): never => {
    throw new UserError(`${mapFile}: ${msg}; nothing was written`, { code: 'input-invalid' });
  };
  let text = '';
  try {
    if ((await stat(mapFile)).size > BMAP_MAX_BYTES) fail(`larger than ${BMAP_MAX_BYTES} bytes: not a stick block map`);
    text = await readFile(mapFile, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    fail(`not a readable block map (${(err as Error).message})`);
  }
  const parsed = parseBlockMap(text);
  if ('problem' in parsed) return fail(parsed.problem);
  const map = parsed.map;
  const size = (await stat(image)).size;
  if (size !== map.imageSize) {
    fail(`ImageSize ${map.imageSize} does not match ${image} (${size} bytes): the map is stale, rebuild the image`);
  }
  if (map.ranges.length === 0) fail('lists no ranges: a stick image has at least its partition table; rebuild the image');
  return map;
}

/** For an image without a map: one range covering everything (hash computed while reading). */
export function wholeImageMap(imageSize: number): BlockMap {
  return { imageSize, blockSize: 4096, ranges: imageSize > 0 ? [{ start: 0, length: imageSize }] : [] };
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
