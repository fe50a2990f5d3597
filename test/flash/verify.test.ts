import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeTarget } from '../../src/flash/device.js';
import { loadImage } from '../../src/flash/image.js';
import { flashImage, type FlashProgress } from '../../src/flash/write.js';
import { formatProgressLine, progressRenderer } from '../../src/flash/progress.js';
import { attachLoop, detachLoop, makeJunkFile, makeSparseImage, MiB, removeDir, tempDir } from './helpers.js';

test('a range that reads back different from the device is reported with its offset and length', async () => {
  const dir = await tempDir();
  let dev: string | undefined;
  try {
    const { image } = await makeSparseImage(dir, 8 * MiB, [{ start: MiB, length: 256 * 1024 }, { start: 5 * MiB, length: 2 * MiB }]);
    const backing = path.join(dir, 'target.img');
    await makeJunkFile(backing, 8 * MiB);
    dev = await attachLoop(backing);
    const { map } = await loadImage(image);
    const target = await describeTarget(dev);
    // Damage the medium behind the device's back once the data is synced: the read-back must come
    // from the device (not from the page cache that still holds what was written) to notice.
    const damage = async () => {
      const fh = await open(backing, 'r+');
      await fh.write(Buffer.from([0x5a ^ 0xff]), 0, 1, 6 * MiB + 12345);
      await fh.close();
    };
    await assert.rejects(
      flashImage({ image, map, target, afterSync: damage }),
      (e: Error) => /verify failed: .* differs from the image at offset 5242880, length 2097152 \(bytes 5242880–7340031\)/.test(e.message),
    );
    // and a clean run over the same device passes
    const report = await flashImage({ image, map, target });
    assert.equal(report.verifiedBytes, 4096 + 256 * 1024 + 2 * MiB);
  } finally {
    await detachLoop(dev);
    await removeDir(dir);
  }
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
