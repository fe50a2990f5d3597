import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { buildStickImage } from '../../src/stick/diskimage.js';
import { blockMapPathFor, parseBlockMap } from '../../src/contracts/block-map.js';
import { attachLoop, detachLoop, MiB, removeDir, tempDir } from './helpers.js';

async function makeZeroFile(file: string, size: number): Promise<void> {
  await writeFile(file, Buffer.alloc(size));
}

/**
 * obsbuild's stick.img.bmap is bmaptool's own format: the real `bmaptool copy` (Debian's bmap-tools) takes it,
 * checks every range's checksum, and leaves a loop device holding the same bytes as `obsbuild flash` leaves on
 * another; and a map `bmaptool create` wrote is one obsbuild reads.
 */
const hasBmaptool = (await execa('bmaptool', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;

test('bmaptool copy of obsbuild\'s image and map gives the same bytes as obsbuild flash', { skip: !hasBmaptool && 'bmaptool not installed (apt-get install bmap-tools)' }, async () => {
  const dir = await tempDir();
  let devA: string | undefined;
  let devB: string | undefined;
  try {
    const msf = path.join(dir, 'stick', 'msf');
    await mkdir(msf, { recursive: true });
    await writeFile(path.join(msf, 'rootfs.tgz'), randomBytes(3 * MiB + 123));
    await writeFile(path.join(msf, 'msf_init.sh'), '#!/bin/sh\necho obsbuild-install: done\n');
    const image = path.join(dir, 'stick.img');
    await buildStickImage(path.join(dir, 'stick'), image, { fs: 'ext3' });
    // Both "sticks" start zeroed: then each must hold exactly the image's bytes over the image's extent.
    const backA = path.join(dir, 'stick-a.img');
    const backB = path.join(dir, 'stick-b.img');
    await makeZeroFile(backA, 32 * MiB);
    await makeZeroFile(backB, 32 * MiB);
    devA = await attachLoop(backA);
    devB = await attachLoop(backB);
    const r = await runCli(['flash', devA, '--image', image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 0, String(r.stderr));
    const b = await execa('bmaptool', ['copy', '--bmap', blockMapPathFor(image), image, devB], { reject: false });
    assert.equal(b.exitCode, 0, `bmaptool copy: ${b.stderr}`);
    assert.doesNotMatch(b.stderr, /checksum|mismatch/i);
    await execa('blockdev', ['--flushbufs', devA]);
    await execa('blockdev', ['--flushbufs', devB]);
    // obsbuild also clears stale partition-table signatures beyond the image; compare the image's extent
    const want = await readFile(image);
    const a = (await readFile(backA)).subarray(0, want.length);
    const bBytes = (await readFile(backB)).subarray(0, want.length);
    assert.ok(bBytes.equals(want), 'bmaptool copy did not reproduce the image');
    assert.ok(a.equals(bBytes), 'obsbuild flash and bmaptool copy left different bytes');
  } finally {
    await detachLoop(devA);
    await detachLoop(devB);
    await removeDir(dir);
  }
});

test('a map bmaptool create wrote is read by obsbuild, and bmaptool refuses an image that no longer matches its map', { skip: !hasBmaptool && 'bmaptool not installed' }, async () => {
  const dir = await tempDir();
  try {
    const image = path.join(dir, 'img.raw');
    // bmaptool create maps what the filesystem allocated, so the image is made sparse: data at 0 and 2 MiB only
    const data = Buffer.alloc(4 * MiB);
    randomBytes(4096).copy(data, 0);
    randomBytes(8192).copy(data, 2 * MiB);
    const fh = await open(image, 'w');
    await fh.truncate(4 * MiB);
    await fh.write(data, 0, 4096, 0);
    await fh.write(data, 2 * MiB, 8192, 2 * MiB);
    await fh.close();
    // bmaptool create writes a map; obsbuild's parser must read it (the same elements and checksum rule)
    const created = await execa('bmaptool', ['create', image], { reject: false, stripFinalNewline: false });
    assert.equal(created.exitCode, 0, created.stderr);
    const parsed = parseBlockMap(String(created.stdout));
    assert.ok('map' in parsed, 'problem' in parsed ? parsed.problem : '');
    assert.deepEqual(
      parsed.map.ranges.map((r) => [r.start, r.length]),
      [[0, 4096], [2 * MiB, 8192]],
    );
    assert.equal(parsed.map.imageSize, 4 * MiB);
    // one mapped byte changed in the image: bmaptool refuses to copy it
    await writeFile(`${image}.bmap`, String(created.stdout));
    const edit = await open(image, 'r+');
    await edit.write(Buffer.from([data[2 * MiB] ^ 0xff]), 0, 1, 2 * MiB);
    await edit.close();
    const out = path.join(dir, 'out.raw');
    const b = await execa('bmaptool', ['copy', '--bmap', `${image}.bmap`, image, out], { reject: false });
    assert.notEqual(b.exitCode, 0, 'bmaptool copied an image that does not match its map');
    assert.match(b.stderr, /checksum mismatch/i);
  } finally {
    await removeDir(dir);
  }
});
