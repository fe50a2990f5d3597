import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { describeTarget } from '../../src/flash/device.js';
import { loadImage } from '../../src/flash/image.js';
import { flashImage, type FlashProgress } from '../../src/flash/write.js';
import { formatProgressLine, progressRenderer } from '../../src/flash/progress.js';
import { attachLoop, detachLoop, makeJunkFile, makeSparseImage, MiB, removeDir, sha256File, tempDir } from './helpers.js';

/** A checked image and a junk-filled loop device to flash it to; `fn` gets both. */
async function withCheckedImage(fn: (f: { image: string; backing: string; dev: string }) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  let dev: string | undefined;
  try {
    const { image } = await makeSparseImage(dir, 8 * MiB, [{ start: MiB, length: 256 * 1024 }, { start: 5 * MiB, length: 2 * MiB }]);
    const backing = path.join(dir, 'target.img');
    await makeJunkFile(backing, 8 * MiB);
    dev = await attachLoop(backing);
    await fn({ image, backing, dev });
  } finally {
    await detachLoop(dev);
    await removeDir(dir);
  }
}

/** Writes `bytes` at `offset` of `file` in place (same inode). */
async function writeInPlace(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  await fh.write(bytes, 0, bytes.length, offset);
  await fh.close();
}

test('a range that reads back different from the device is reported with its offset and length', async () => {
  await withCheckedImage(async ({ image, backing, dev }) => {
    const checked = await loadImage(image);
    const target = await describeTarget(dev);
    // Damage the medium behind the device's back once the data is synced: the read-back must come
    // from the device (not from the page cache that still holds what was written) to notice.
    const damage = () => writeInPlace(backing, 6 * MiB + 12345, Buffer.from([0x5a ^ 0xff]));
    await assert.rejects(
      flashImage({ ...checked, target, afterSync: damage }),
      (e: Error) => /verify failed: .* differs from the image at offset 5242880, length 2097152 \(bytes 5242880–7340031\)/.test(e.message),
    );
    // and a clean run over the same device passes
    const report = await flashImage({ ...checked, target });
    assert.equal(report.verifiedBytes, 4096 + 256 * 1024 + 2 * MiB);
  });
});

test('an image written to in place after its check is refused before the stick is touched', async () => {
  await withCheckedImage(async ({ image, backing, dev }) => {
    const checked = await loadImage(image);
    await writeInPlace(image, 5 * MiB + 100, Buffer.from('X'));
    const before = await sha256File(backing);
    await assert.rejects(
      flashImage({ ...checked, target: await describeTarget(dev) }),
      (e: Error) => /stick\.img changed after it was checked .*nothing was written; run the command again/.test(e.message),
    );
    assert.equal(await sha256File(backing), before, 'the stick changed although the flash refused');
  });
});

test('an image rebuilt (a new file renamed over it) after its check is refused before the stick is touched', async () => {
  await withCheckedImage(async ({ image, backing, dev }) => {
    const checked = await loadImage(image);
    await copyFile(image, `${image}.new`); // the same bytes, a new file: what a rebuild's rename leaves
    await rename(`${image}.new`, image);
    const before = await sha256File(backing);
    await assert.rejects(flashImage({ ...checked, target: await describeTarget(dev) }), /changed after it was checked/);
    assert.equal(await sha256File(backing), before);
  });
});

test('an image written to during the flash fails it, even when the bytes it got are the same', async () => {
  await withCheckedImage(async ({ image, dev }) => {
    const checked = await loadImage(image);
    // rewrite a byte with its own value: the read-back still matches, only the file's identity tells
    const same = (await readFile(image)).subarray(5 * MiB, 5 * MiB + 1);
    await assert.rejects(
      flashImage({ ...checked, target: await describeTarget(dev), afterSync: () => writeInPlace(image, 5 * MiB, same) }),
      (e: Error) => new RegExp(`stick\\.img changed while it was being flashed .*${dev} holds neither`).test(e.message),
    );
    // and the same image, left alone, flashes
    const report = await flashImage({ ...(await loadImage(image)), target: await describeTarget(dev) });
    assert.equal(report.verifiedBytes, 4096 + 256 * 1024 + 2 * MiB);
  });
});

test('progress lines carry the phase, bytes, speed and ETA', () => {
  const line = formatProgressLine({ phase: 'writing', done: 30 * MiB, total: 60 * MiB }, 2);
  assert.match(line, /^writing .*\[#{15}-{15}\]\s+50% 30\.0 MiB \/ 60\.0 MiB\s+15\.0 MiB\/s\s+ETA 2s$/);
});

test('without a terminal, progress is plain lines: one per phase start and end, no carriage returns', () => {
  const out: string[] = [];
  const stream = { isTTY: false, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
  const r = progressRenderer(stream, { tty: 100, plain: 60_000 });
  const steps: FlashProgress[] = [
    { phase: 'writing', done: 0, total: 100 },
    { phase: 'writing', done: 50, total: 100 },
    { phase: 'writing', done: 100, total: 100 },
    { phase: 'verifying', done: 0, total: 100 },
    { phase: 'verifying', done: 100, total: 100 },
  ];
  for (const s of steps) r.update(s);
  r.finish();
  const text = out.join('');
  assert.doesNotMatch(text, /\r/);
  assert.deepEqual(
    text.trim().split('\n').map((l) => l.replace(/\s+.*%/, '').split(' ')[0] + ' ' + /(\d+)%/.exec(l)![1]),
    ['writing 0', 'writing 100', 'verifying 0', 'verifying 100'],
  );
});
