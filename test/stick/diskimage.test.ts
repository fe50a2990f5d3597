import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blockMapPathFor, parseBlockMap } from '../../src/contracts/block-map.js';
import { buildStickImage, PARTITION_START, type StickFs } from '../../src/stick/diskimage.js';
import { MBR_PART_TYPE, parseMbr } from '../../src/stick/mbr.js';
import { UserError } from '../../src/util/errors.js';
import { makeStickFolder, type StickFixture } from './fixtures.js';

function run(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Reads one file out of the image's partition with the filesystem's own tools. */
function readFromImage(img: string, fs: StickFs, path: string): Buffer {
  if (fs === 'vfat') return run('mtype', ['-i', `${img}@@${PARTITION_START}`, `::${path}`]);
  return run('debugfs', ['-R', `cat ${path}`, `${img}?offset=${PARTITION_START}`]);
}

function listImage(img: string, fs: StickFs, dir: string): string[] {
  if (fs === 'vfat') {
    // mdir -b prints one full path per line
    return run('mdir', ['-b', '-i', `${img}@@${PARTITION_START}`, `::${dir}`]).toString().split('\n').filter(Boolean).map((l) => l.replace(/^::\/?.*\//, ''));
  }
  return run('debugfs', ['-R', `ls -p ${dir}`, `${img}?offset=${PARTITION_START}`]).toString().split('\n')
    .filter((l) => l.startsWith('/')).map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..');
}

async function extractPartition(img: string, out: string): Promise<void> {
  const data = await readFile(img);
  await writeFile(out, data.subarray(PARTITION_START));
}

function fsck(fs: StickFs, partFile: string): void {
  // exits non-zero on any inconsistency
  if (fs === 'vfat') run('fsck.fat', ['-n', partFile]);
  else run('e2fsck', ['-f', '-n', partFile]);
}

describe('stick.img', () => {
  let root: string;
  let fx: StickFixture;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'obsbuild-stickimg-'));
    fx = await makeStickFolder(root);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  for (const fs of ['ext3', 'vfat', 'ext2'] as const) {
    it(`${fs}: MBR with one partition at 1 MiB, labelled MSF, holding every msf/ file byte for byte`, async () => {
      const img = join(root, `stick-${fs}.img`);
      const info = await buildStickImage(fx.stickDir, img, { fs });
      const size = (await stat(img)).size;
      assert.equal(info.imageSize, size);

      const fh = await open(img, 'r');
      const sector0 = Buffer.alloc(512);
      await fh.read(sector0, 0, 512, 0);
      await fh.close();
      const mbr = parseMbr(sector0);
      assert.ok(mbr, 'boot signature present');
      assert.equal(mbr.partitions.length, 1);
      const p = mbr.partitions[0];
      assert.equal(p.startLba, 2048);
      assert.equal(p.sectors, (size - PARTITION_START) / 512);
      assert.equal(p.type, fs === 'vfat' ? MBR_PART_TYPE.fat16Lba : MBR_PART_TYPE.linux);

      // util-linux reads the same table
      const table = JSON.parse(run('sfdisk', ['--json', img]).toString()).partitiontable;
      assert.equal(table.label, 'dos');
      assert.equal(table.partitions.length, 1);
      assert.equal(table.partitions[0].start, 2048);
      assert.equal(table.partitions[0].size, p.sectors);
      const fdiskLine = run('fdisk', ['-l', img]).toString().split('\n').find((l) => l.startsWith(`${img}1`));
      assert.ok(fdiskLine, 'fdisk -l lists partition 1');
      assert.match(fdiskLine, new RegExp(`^${img}1\\s+2048\\s+${2048 + p.sectors - 1}\\s`));

      const probe = run('blkid', ['-p', '-O', String(PARTITION_START), '-o', 'export', img]).toString();
      assert.match(probe, /^LABEL=MSF$/m);
      assert.match(probe, new RegExp(`^TYPE=${fs}$`, 'm'));

      const sources = (await readdir(fx.msfDir)).sort();
      assert.deepEqual(listImage(img, fs, '/msf').sort(), sources.map((n) => (fs === 'vfat' ? n : n)).sort());
      for (const name of sources) {
        const want = await readFile(join(fx.msfDir, name));
        const got = readFromImage(img, fs, `/msf/${name}`);
        assert.equal(sha256(got), sha256(want), `${name} inside the ${fs} image`);
      }
      const part = join(root, `part-${fs}`);
      await extractPartition(img, part);
      fsck(fs, part);
      await rm(part);
    });

    it(`${fs}: the block map covers every non-zero block, and writing only its ranges over an old stick gives a clean filesystem`, async () => {
      const img = join(root, `map-${fs}.img`);
      const info = await buildStickImage(fx.stickDir, img, { fs });
      const parsed = parseBlockMap(await readFile(blockMapPathFor(img), 'utf8'));
      assert.ok('map' in parsed, 'problem' in parsed ? parsed.problem : '');
      const map = parsed.map;
      assert.deepEqual(map, info.blockMap.map);
      const data = await readFile(img);
      assert.equal(map.blockSize, 4096);
      assert.equal(map.imageSize, data.length);
      assert.equal(info.blockMap.imageSha256, sha256(data));

      const covered = (off: number) => map.ranges.some((r: { start: number; length: number }) => off >= r.start && off < r.start + r.length);
      let prevEnd = 0;
      for (const r of map.ranges) {
        assert.ok(r.start >= prevEnd && r.start % 4096 === 0, 'sorted, aligned, not overlapping');
        prevEnd = r.start + r.length;
        assert.equal(r.sha256, sha256(data.subarray(r.start, r.start + r.length)));
      }
      for (let off = 0; off < data.length; off += 4096) {
        const block = data.subarray(off, off + 4096);
        if (block.some((b) => b !== 0)) assert.ok(covered(off), `non-zero block at ${off} is mapped`);
      }
      const mapped = map.ranges.reduce((n: number, r: { length: number }) => n + r.length, 0);
      assert.ok(mapped < data.length, `the map skips empty space (${mapped} of ${data.length} bytes)`);

      // An "old stick" full of garbage; write only the mapped ranges, as obsbuild flash does.
      const old = Buffer.alloc(data.length, 0xa5);
      for (const r of map.ranges) data.copy(old, r.start, r.start, r.start + r.length);
      const written = join(root, `written-${fs}.img`);
      await writeFile(written, old);
      const part = join(root, `written-part-${fs}`);
      await extractPartition(written, part);
      fsck(fs, part);
      for (const name of await readdir(fx.msfDir)) {
        assert.equal(sha256(readFromImage(written, fs, `/msf/${name}`)), sha256(await readFile(join(fx.msfDir, name))), `${name} after a mapped write`);
      }
      await rm(part);
      await rm(written);
    });
  }

  it('is reproducible: the same folder with other file times gives the same bytes', async () => {
    for (const fs of ['ext3', 'vfat'] as const) {
      const a = join(root, `repro-a-${fs}.img`);
      const b = join(root, `repro-b-${fs}.img`);
      await buildStickImage(fx.stickDir, a, { fs, sourceDateEpoch: 1700000000 });
      for (const name of await readdir(fx.msfDir)) await utimes(join(fx.msfDir, name), 1234567890, 1234567890);
      await buildStickImage(fx.stickDir, b, { fs, sourceDateEpoch: 1700000000 });
      assert.equal(sha256(await readFile(a)), sha256(await readFile(b)), fs);
      assert.equal(await readFile(blockMapPathFor(a), 'utf8'), await readFile(blockMapPathFor(b), 'utf8'));
    }
  });

  it('is reproducible from inputs that carry no date (epoch 0): no wall-clock time gets in', async () => {
    for (const fs of ['ext3', 'vfat'] as const) {
      const a = join(root, `repro0-a-${fs}.img`);
      const b = join(root, `repro0-b-${fs}.img`);
      await buildStickImage(fx.stickDir, a, { fs, sourceDateEpoch: 0 });
      // Let the clock move on: a time taken from it would now differ.
      await new Promise((r) => setTimeout(r, 1100));
      await buildStickImage(fx.stickDir, b, { fs, sourceDateEpoch: 0 });
      assert.equal(sha256(await readFile(a)), sha256(await readFile(b)), fs);
    }
  });

  it('refuses an empty folder and a bad label, leaving no image behind', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    const img = join(root, 'never.img');
    await assert.rejects(buildStickImage(empty, img), (e: unknown) => e instanceof UserError && /empty/.test(e.message));
    await assert.rejects(buildStickImage(fx.stickDir, img, { fs: 'vfat', label: 'msf' }), UserError);
    await assert.rejects(buildStickImage(fx.stickDir, img, { fs: 'ext3', label: 'a label with spaces' }), UserError);
    assert.deepEqual((await readdir(root)).filter((n) => n.includes('never')), []);
  });
});
