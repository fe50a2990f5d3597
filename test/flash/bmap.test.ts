import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readBlockMap, uncovered } from '../../src/flash/bmap.js';
import { formatBlockMap } from '../../src/contracts/block-map.js';
import { clearZones, HEAD_CLEAR_ZONE, TAIL_CLEAR_ZONE } from '../../src/flash/write.js';
import { makeSparseImage, MiB, removeDir, tempDir } from './helpers.js';

const H = 'a'.repeat(64);

test('a block map that fits its image is read as written', async () => {
  const dir = await tempDir();
  try {
    const { image, map, ranges } = await makeSparseImage(dir, 4 * MiB, [{ start: MiB, length: 8192 }]);
    const m = await readBlockMap(map, image);
    assert.equal(m.imageSize, 4 * MiB);
    assert.deepEqual(
      m.ranges.map((r) => [r.start, r.length]),
      ranges.map((r) => [r.start, r.length]),
    );
  } finally {
    await removeDir(dir);
  }
});

test('stale or malformed block maps are refused with the map file named', async () => {
  const dir = await tempDir();
  try {
    const { image, map } = await makeSparseImage(dir, 4 * MiB, []);
    const good = formatBlockMap({ imageSize: 4 * MiB, blockSize: 4096, ranges: [{ start: 0, length: 4096, sha256: H }] });
    const cases: [string, RegExp][] = [
      [formatBlockMap({ imageSize: 2 * MiB, blockSize: 4096, ranges: [{ start: 0, length: 4096, sha256: H }] }), /ImageSize 2097152 does not match .*stale/],
      [good.replace('<bmap version="2.0">', '<bmap version="3.0">'), /version 3\.0 is not supported/],
      [good.replace('<ChecksumType> sha256 </ChecksumType>', '<ChecksumType> sha1 </ChecksumType>'), /ChecksumType is not sha256/],
      [good.replace('<BlocksCount> 1024 </BlocksCount>', '<BlocksCount> 1025 </BlocksCount>'), /BlocksCount 1025 does not match/],
      [good.replace(' 0 </Range>', ' 1 </Range>'), /BmapFileChecksum does not match/],
      [
        formatBlockMap({ imageSize: 4 * MiB, blockSize: 4096, ranges: [{ start: 8192, length: 4096, sha256: H }, { start: 4096, length: 8192, sha256: H }] }),
        /range 1-2 overlaps or is out of order/,
      ],
      [formatBlockMap({ imageSize: 4 * MiB, blockSize: 4096, ranges: [{ start: 4 * MiB - 4096, length: 8192, sha256: H }] }), /past the image's 1024 blocks/],
      [formatBlockMap({ imageSize: 4 * MiB, blockSize: 4096, ranges: [] }), /lists no ranges/],
      ['<bmap version="2.0"><!-- never closed', /unterminated <!-- comment/],
      ['{ "version": 1 }', /not a bmap file/],
    ];
    for (const [content, re] of cases) {
      await writeFile(map, content);
      await assert.rejects(readBlockMap(map, image), (e: Error) => e.message.startsWith(`${map}: `) && re.test(e.message), String(re));
    }
  } finally {
    await removeDir(dir);
  }
});

test('uncovered finds the gaps a set of ranges leaves in a window', () => {
  const ranges = [
    { start: 0, length: 4096 },
    { start: 8192, length: 4096 },
    { start: 20000, length: 100 },
  ];
  assert.deepEqual(uncovered(0, 16384, ranges), [
    { start: 4096, length: 4096 },
    { start: 12288, length: 4096 },
  ]);
  assert.deepEqual(uncovered(4096, 8192, ranges), [{ start: 4096, length: 4096 }]);
  assert.deepEqual(uncovered(0, 4096, ranges), []);
});

test('the zones cleared are the unmapped parts of the first 512 KiB and the last 256 KiB of the device', () => {
  const ranges = [{ start: 0, length: 4096 }, { start: MiB, length: MiB }];
  assert.deepEqual(clearZones(64 * MiB, ranges), [
    { start: 4096, length: HEAD_CLEAR_ZONE - 4096 },
    { start: 64 * MiB - TAIL_CLEAR_ZONE, length: TAIL_CLEAR_ZONE },
  ]);
  // a device exactly the image's size: the tail zone is inside the image, minus its mapped part
  assert.deepEqual(clearZones(2 * MiB, ranges), [{ start: 4096, length: HEAD_CLEAR_ZONE - 4096 }]);
});
