import { blockMapPathFor, formatBlockMap } from '../../src/contracts/block-map.js';
import { readBlockMap } from '../../src/flash/bmap.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { mbrProblem } from '../../src/flash/image-check.js';
import { attachLoop, detachLoop, flushDevice, makeJunkFile, makeSparseImage, MiB, removeDir, sha256File, tempDir } from './helpers.js';

/**
 * An image or block map that cannot describe a real stick is refused before the first write: the
 * junk-filled target keeps every byte (the old code cleared signatures, wrote and "verified" these).
 */

async function writeAt(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

test('images and maps that cannot describe a stick are refused before anything is written', async () => {
  const dir = await tempDir();
  let dev: string | undefined;
  try {
    const backing = path.join(dir, 'target.img');
    await makeJunkFile(backing, 16 * MiB);
    dev = await attachLoop(backing);
    const before = await sha256File(backing);

    // each case: a directory with its own stick.img (and map), built by `make`
    const cases: [string, (image: string) => Promise<void>, RegExp][] = [
      ['a 0-byte image', async (image) => writeFile(image, ''), /stick\.img is empty \(0 bytes\): not a stick image/],
      [
        'an image that is not a whole number of sectors',
        async (image) => {
          await makeSparseImage(path.dirname(image), 2 * MiB, []);
          await execa('truncate', ['-s', String(2 * MiB + 100), image]);
          await execa('rm', [blockMapPathFor(image)]);
        },
        /is 2097252 bytes, not a whole number of 512-byte sectors/,
      ],
      [
        'a block map with no ranges',
        async (image) => {
          await makeSparseImage(path.dirname(image), 2 * MiB, []);
          const map = await readBlockMap(blockMapPathFor(image), image);
          await writeFile(blockMapPathFor(image), formatBlockMap({ ...map, ranges: [] }));
        },
        /stick\.img\.bmap: lists no ranges/,
      ],
      [
        'a block map that leaves out the partition table',
        async (image) => {
          await makeSparseImage(path.dirname(image), 2 * MiB, [{ start: MiB, length: 4096 }]);
          const map = await readBlockMap(blockMapPathFor(image), image);
          await writeFile(blockMapPathFor(image), formatBlockMap({ ...map, ranges: map.ranges.slice(1) }));
        },
        /block map that leaves out the partition table/,
      ],
      [
        'a hand-edited block map (its own checksum no longer matches)',
        async (image) => {
          await makeSparseImage(path.dirname(image), 2 * MiB, [{ start: MiB, length: 4096 }]);
          const text = await readFile(blockMapPathFor(image), 'utf8');
          await writeFile(blockMapPathFor(image), text.replace('<MappedBlocksCount> 2 </MappedBlocksCount>', '<MappedBlocksCount> 3 </MappedBlocksCount>'));
        },
        /stick\.img\.bmap: its BmapFileChecksum does not match its content/,
      ],
      [
        'an image with data where its map says there is none',
        async (image) => {
          await makeSparseImage(path.dirname(image), 2 * MiB, [{ start: MiB, length: 4096 }]);
          await writeAt(image, 1536 * 1024 + 7, Buffer.from('Z'));
        },
        /has data at byte 1572871 that its block map leaves out: the map is stale/,
      ],
      [
        'a range whose bytes differ from the map',
        async (image) => {
          await makeSparseImage(path.dirname(image), 2 * MiB, [{ start: MiB, length: 8192 }]);
          await writeAt(image, MiB + 5, Buffer.from('Z'));
        },
        /does not match its block map at offset 1048576, length 8192 .*damaged; rebuild the image/,
      ],
      ['an image without an MBR', async (image) => execa('truncate', ['-s', String(2 * MiB), image]).then(() => undefined), /has no partition table \(no MBR boot signature/],
      [
        'an MBR with no partition',
        async (image) => {
          await execa('truncate', ['-s', String(2 * MiB), image]);
          await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], { input: 'label: dos\n' });
        },
        /has an MBR that lists no partition/,
      ],
    ];
    for (const [name, make, re] of cases) {
      const caseDir = path.join(dir, name.replace(/\W+/g, '-'));
      await execa('mkdir', ['-p', caseDir]);
      const image = path.join(caseDir, 'stick.img');
      await make(image);
      const r = await runCli(['flash', dev, '--image', image, '--yes', '--force-unsafe-target']);
      assert.equal(r.exitCode, 1, `${name}: expected exit 1, got ${r.exitCode}: ${r.stderr}${r.stdout}`);
      assert.match(String(r.stderr), re, name);
      assert.match(String(r.stderr), /nothing was written/, name);
      assert.doesNotMatch(String(r.stdout), /verified/, name);
      await flushDevice(dev);
      assert.equal(await sha256File(backing), before, `${name}: the target changed`);
    }
  } finally {
    await detachLoop(dev);
    await removeDir(dir);
  }
});

test('MBR checks: a partition past the image end and a half-filled entry are named', () => {
  const mbr = Buffer.alloc(512);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const entry = (i: number, type: number, first: number, count: number) => {
    mbr[446 + 16 * i + 4] = type;
    mbr.writeUInt32LE(first, 446 + 16 * i + 8);
    mbr.writeUInt32LE(count, 446 + 16 * i + 12);
  };
  entry(0, 0x83, 2048, 4096);
  assert.equal(mbrProblem(mbr, 4 * MiB), undefined);
  assert.match(mbrProblem(mbr, 2 * MiB) ?? '', /partition 1 at sectors 2048–6143, outside the image's 4096 sectors/);
  entry(1, 0x83, 8000, 0);
  assert.match(mbrProblem(mbr, 4 * MiB) ?? '', /malformed MBR entry 2/);
});
