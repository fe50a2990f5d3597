/**
 * The stick block map, in bmaptool's XML format (version 2.0, sha256 checksums): `obsbuild image` writes
 * `stick.img.bmap` next to the image, `obsbuild flash` and `bmaptool copy` read it. It lists the blocks
 * of the image that hold data; everything else is free space a flasher may skip. This module is the only
 * place that knows the format.
 *
 * Format facts (as bmaptool reads them): <bmap version="2.0"> holds ImageSize, BlockSize, BlocksCount
 * (= ceil(ImageSize / BlockSize)), MappedBlocksCount, ChecksumType, BmapFileChecksum and a BlockMap of
 * <Range chksum="..."> first-last </Range> elements, block numbers inclusive, the last block possibly
 * partial. BmapFileChecksum is the checksum of the whole file with its own value replaced by zeros.
 */
import { createHash } from 'node:crypto';

export const BMAP_FORMAT_VERSION = '2.0';
export const BMAP_SUFFIX = '.bmap';
/** A stick image's map is a few kilobytes; a bigger file is not one of ours. */
export const BMAP_MAX_BYTES = 16 * 1024 * 1024;
const CHECKSUM_LENGTH = 64;

export interface BlockRange {
  /** Byte offset in the image (and on the target): a multiple of the block size. */
  start: number;
  /** Bytes; a multiple of the block size except for a range holding the image's last, partial block. */
  length: number;
  /** sha256 of the range's bytes; undefined only for an image flashed without a map, until it is hashed. */
  sha256?: string;
}

export interface BlockMap {
  imageSize: number;
  blockSize: number;
  ranges: BlockRange[];
}

export function blockMapPathFor(image: string): string {
  return `${image}${BMAP_SUFFIX}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The map as bmaptool's XML; every range must carry its sha256. */
export function formatBlockMap(map: BlockMap): string {
  const blocks = Math.ceil(map.imageSize / map.blockSize);
  let mapped = 0;
  const rangeLines = map.ranges.map((r) => {
    if (r.sha256 === undefined) throw new Error(`block map range at ${r.start} has no sha256`);
    const first = r.start / map.blockSize;
    const last = Math.ceil((r.start + r.length) / map.blockSize) - 1;
    mapped += last - first + 1;
    return `        <Range chksum="${r.sha256}"> ${first === last ? first : `${first}-${last}`} </Range>`;
  });
  const body = (checksum: string) =>
    [
      '<?xml version="1.0" ?>',
      '<!-- The blocks of the image that hold data (bmaptool format): flash only these, the rest is free space. -->',
      `<bmap version="${BMAP_FORMAT_VERSION}">`,
      `    <ImageSize> ${map.imageSize} </ImageSize>`,
      `    <BlockSize> ${map.blockSize} </BlockSize>`,
      `    <BlocksCount> ${blocks} </BlocksCount>`,
      `    <MappedBlocksCount> ${mapped} </MappedBlocksCount>`,
      '    <ChecksumType> sha256 </ChecksumType>',
      `    <BmapFileChecksum> ${checksum} </BmapFileChecksum>`,
      '    <BlockMap>',
      ...rangeLines,
      '    </BlockMap>',
      '</bmap>',
      '',
    ].join('\n');
  return body(sha256(body('0'.repeat(CHECKSUM_LENGTH))));
}

export type ParsedBlockMap = { map: BlockMap } | { problem: string };

const COUNT = /^\d{1,15}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** The text without its <!-- comments --> (bmaptool's own header comment names the elements). */
function withoutComments(text: string): string | undefined {
  let out = '';
  let pos = 0;
  for (;;) {
    const open = text.indexOf('<!--', pos);
    if (open < 0) return out + text.slice(pos);
    const close = text.indexOf('-->', open + 4);
    if (close < 0) return undefined;
    out += text.slice(pos, open);
    pos = close + 3;
  }
}

/** The text of the one `<name>` element, or undefined; linear (indexOf, no backtracking). */
function element(text: string, name: string): string | undefined {
  const open = `<${name}>`;
  const at = text.indexOf(open);
  if (at < 0 || text.indexOf(open, at + 1) >= 0) return undefined;
  const end = text.indexOf(`</${name}>`, at);
  return end < 0 ? undefined : text.slice(at + open.length, end).trim();
}

/**
 * Reads bmaptool's XML as obsbuild writes it (and as `bmaptool create` writes it: the same elements), checking
 * everything a flasher relies on: version, sizes, the file's own checksum, ranges sorted, inside the image,
 * not overlapping, each with a sha256. A damaged or hand-edited map is refused, never half-used.
 */
export function parseBlockMap(text: string): ParsedBlockMap {
  const bad = (problem: string): ParsedBlockMap => ({ problem });
  if (text.length > BMAP_MAX_BYTES) return bad(`larger than ${BMAP_MAX_BYTES} bytes: not a stick block map`);
  const raw = text;
  const stripped = withoutComments(raw);
  if (stripped === undefined) return bad('has an unterminated <!-- comment');
  text = stripped;
  const version = /<bmap version="(\d{1,3})\.(\d{1,3})">/.exec(text.slice(0, 4096));
  if (!version) return bad('not a bmap file (no <bmap version="..."> element)');
  if (version[1] !== '2' && !(version[1] === '1' && version[2] === '4')) return bad(`bmap format version ${version[1]}.${version[2]} is not supported (expected 2.0)`);
  const numbers: Record<string, number> = {};
  for (const name of ['ImageSize', 'BlockSize', 'BlocksCount', 'MappedBlocksCount']) {
    const v = element(text, name);
    if (v === undefined || !COUNT.test(v)) return bad(`${name} is missing or not a number`);
    numbers[name] = Number(v);
  }
  const { ImageSize: imageSize, BlockSize: blockSize } = numbers;
  if (blockSize === 0 || blockSize % 512 !== 0) return bad(`BlockSize ${blockSize} is not a positive multiple of 512`);
  if (numbers.BlocksCount !== Math.ceil(imageSize / blockSize)) return bad(`BlocksCount ${numbers.BlocksCount} does not match ImageSize ${imageSize}`);
  if (element(text, 'ChecksumType') !== 'sha256') return bad('ChecksumType is not sha256');
  const checksum = element(text, 'BmapFileChecksum');
  if (checksum === undefined || !HEX64.test(checksum)) return bad('BmapFileChecksum is missing or not a sha256');
  const at = raw.indexOf(checksum);
  if (sha256(raw.slice(0, at) + '0'.repeat(CHECKSUM_LENGTH) + raw.slice(at + CHECKSUM_LENGTH)) !== checksum) {
    return bad('its BmapFileChecksum does not match its content: the map is damaged or was edited');
  }
  const list = element(text, 'BlockMap');
  if (list === undefined) return bad('has no BlockMap element');
  const ranges: BlockRange[] = [];
  let nextBlock = 0;
  let mapped = 0;
  const blocks = numbers.BlocksCount;
  for (const piece of list.split('</Range>')) {
    const item = piece.trim();
    if (item === '') continue;
    const m = /^<Range chksum="([0-9a-f]{64})">\s*(\d{1,15})(?:-(\d{1,15}))?\s*$/.exec(item);
    if (!m) return bad(`range ${ranges.length + 1} is not <Range chksum="sha256"> first-last </Range>`);
    const first = Number(m[2]);
    const last = m[3] === undefined ? first : Number(m[3]);
    if (last < first) return bad(`range ${first}-${last} ends before it starts`);
    if (first < nextBlock) return bad(`range ${first}-${last} overlaps or is out of order`);
    if (last >= blocks) return bad(`range ${first}-${last} lies past the image's ${blocks} blocks`);
    const start = first * blockSize;
    ranges.push({ start, length: Math.min(imageSize, (last + 1) * blockSize) - start, sha256: m[1] });
    mapped += last - first + 1;
    nextBlock = last + 1;
  }
  if (mapped !== numbers.MappedBlocksCount) return bad(`MappedBlocksCount ${numbers.MappedBlocksCount} does not match its ranges (${mapped} blocks)`);
  return { map: { imageSize, blockSize, ranges } };
}
