/**
 * Several sticks at once: `obsbuild flash A B C` checks every target before writing any, reads the image
 * once, writes and reads back each, prints one line per stick and a summary, and one stick's failure does
 * not stop the others. Loop devices on files this test made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, symlink } from 'node:fs/promises';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { describeTarget } from '../../src/flash/device.js';
import { loadImage } from '../../src/flash/image.js';
import { flashImageToMany } from '../../src/flash/write.js';
import { attachLoop, detachLoop, flushDevice, makeJunkFile, makeSparseImage, MiB, readRange, removeDir, sha256File, tempDir } from './helpers.js';

const RANGES = [
  { start: MiB, length: 64 * 1024 },
  { start: 3 * MiB, length: 1536 * 1024 },
];

async function sticks(dir: string, sizes: number[]): Promise<{ backing: string[]; devs: string[] }> {
  const backing: string[] = [];
  const devs: string[] = [];
  for (const [i, size] of sizes.entries()) {
    const file = path.join(dir, `stick-${i}.img`);
    await makeJunkFile(file, size);
    backing.push(file);
    devs.push(await attachLoop(file));
  }
  return { backing, devs };
}

async function holdsImage(backing: string, image: string): Promise<boolean> {
  for (const r of [{ start: 0, length: 4096 }, ...RANGES]) {
    if (!(await readRange(backing, r.start, r.length)).equals(await readRange(image, r.start, r.length))) return false;
  }
  return true;
}

test('three sticks at once: each written and read back, one line each and a summary', async () => {
  const dir = await tempDir();
  let devs: string[] = [];
  try {
    const { image } = await makeSparseImage(dir, 8 * MiB, RANGES);
    const s = await sticks(dir, [16 * MiB, 16 * MiB, 12 * MiB]);
    devs = s.devs;
    const r = await runCli(['flash', ...devs, '--image', image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 0, String(r.stderr));
    for (const d of devs) assert.match(String(r.stdout), new RegExp(`^ok +wrote .* to ${d} .*read back and verified`, 'm'));
    assert.match(String(r.stdout), /^3 of 3 sticks written and verified$/m);
    for (const d of devs) await flushDevice(d);
    for (const b of s.backing) assert.ok(await holdsImage(b, image), `${b} does not hold the image`);
  } finally {
    for (const d of devs) await detachLoop(d);
    await removeDir(dir);
  }
});

test('one unsafe target among several: nothing is written to any of them', async () => {
  const dir = await tempDir();
  let devs: string[] = [];
  try {
    const { image } = await makeSparseImage(dir, 8 * MiB, RANGES);
    const s = await sticks(dir, [16 * MiB, 4 * MiB, 16 * MiB]); // the second is too small
    devs = s.devs;
    const before = await Promise.all(s.backing.map((b) => sha256File(b)));
    const r = await runCli(['flash', ...devs, '--image', image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr), new RegExp(`${devs[1]} is too small.*nothing was written`));
    for (const d of devs) await flushDevice(d);
    assert.deepEqual(await Promise.all(s.backing.map((b) => sha256File(b))), before, 'a target changed although flash refused');
  } finally {
    for (const d of devs) await detachLoop(d);
    await removeDir(dir);
  }
});

test('the same stick under two names is refused before anything is written', async () => {
  const dir = await tempDir();
  let devs: string[] = [];
  try {
    const { image } = await makeSparseImage(dir, 8 * MiB, RANGES);
    const s = await sticks(dir, [16 * MiB]);
    devs = s.devs;
    const link = path.join(dir, 'by-id-stick');
    await symlink(devs[0], link);
    const before = await sha256File(s.backing[0]);
    const r = await runCli(['flash', devs[0], link, '--image', image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr), /are the same device/);
    assert.equal(await sha256File(s.backing[0]), before);
    const serial = await runCli(['flash', devs[0], link, '--serial', 'X', '--image', image, '--yes', '--force-unsafe-target']);
    assert.equal(serial.exitCode, 2, String(serial.stderr));
  } finally {
    for (const d of devs) await detachLoop(d);
    await removeDir(dir);
  }
});

test('a stick that fails its read-back is reported, and the others are still written and verified', async () => {
  const dir = await tempDir();
  let devs: string[] = [];
  try {
    const { image } = await makeSparseImage(dir, 8 * MiB, RANGES);
    const s = await sticks(dir, [16 * MiB, 16 * MiB, 16 * MiB]);
    devs = s.devs;
    const loaded = await loadImage(image);
    const targets = await Promise.all(devs.map((d) => describeTarget(d)));
    const outcomes = await flashImageToMany({
      ...loaded,
      targets,
      // the middle stick "loses" a block between the write and the read-back, as a faulty stick does
      afterSync: async (device) => {
        if (device !== devs[1]) return;
        const fh = await open(device, 'r+');
        await fh.write(Buffer.alloc(4096, 0x55), 0, 4096, 3 * MiB);
        await fh.sync();
        await fh.close();
      },
    });
    assert.deepEqual(outcomes.map((o) => o.device), devs);
    assert.ok(outcomes[0].report && outcomes[2].report, 'the good sticks have reports');
    assert.match(outcomes[1].error?.message ?? '', new RegExp(`verify failed: ${devs[1]} differs from the image`));
    for (const d of devs) await flushDevice(d);
    assert.ok(await holdsImage(s.backing[0], image));
    assert.ok(await holdsImage(s.backing[2], image));
  } finally {
    for (const d of devs) await detachLoop(d);
    await removeDir(dir);
  }
});
