import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cliPath } from '../helpers/cli.js';
import { attachLoop, detachLoop, flushDevice, MiB, readRange, removeDir, tempDir } from './helpers.js';

/**
 * Ctrl-C (SIGINT) or SIGTERM to the real CLI while it writes a large image to a loop device: it
 * stops writing, says the stick is incomplete and to run the command again, and exits 128 + the
 * signal number. The image is big (no block map: all of it is written) so the write is still
 * running when the signal arrives; a marker at the image's end on the target shows where it stopped.
 */

const IMAGE_SIZE = 256 * MiB;
const MARKER = Buffer.from('old data the flash never reached\n'.repeat(32));
const MARKER_AT = IMAGE_SIZE - MiB;

async function interruptedRun(signal: 'SIGINT' | 'SIGTERM', expectedCode: number): Promise<void> {
  const dir = await tempDir();
  let dev: string | undefined;
  try {
    const image = path.join(dir, 'stick.img');
    await writeFile(image, '');
    await execa('truncate', ['-s', String(IMAGE_SIZE), image]);
    await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], { input: 'label: dos\nstart=2048, type=83\n' });
    const backing = path.join(dir, 'target.img');
    await writeFile(backing, '');
    await execa('truncate', ['-s', String(IMAGE_SIZE + 2 * MiB), backing]);
    const fh = await open(backing, 'r+');
    await fh.write(MARKER, 0, MARKER.length, MARKER_AT);
    await fh.close();
    // the stick held a bootable-looking disk before: an old partition table
    await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', backing], { input: 'label: dos\nstart=4096, type=c\n' });
    dev = await attachLoop(backing);

    const child = execa(process.execPath, [cliPath, 'flash', dev, '--image', image, '--yes', '--force-unsafe-target'], { reject: false });
    let stderr = '';
    let sent = false;
    child.stderr!.on('data', (d: Buffer) => {
      stderr += String(d);
      // the progress line that opens the write phase (plain lines: stderr is a pipe)
      if (!sent && /^writing /m.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    const r = await child;
    assert.ok(sent, `the write phase never started: ${stderr}`);
    assert.equal(r.exitCode, expectedCode, `exit ${r.exitCode} (signal ${r.signal}): ${stderr}`);
    const lines = stderr.split('\n').filter((l) => l.startsWith('obsbuild:'));
    assert.deepEqual(lines.length, 1, stderr);
    assert.match(lines[0], new RegExp(`^obsbuild: flash interrupted \\(${signal}\\) while writing: ${dev} is now incomplete \\(a half-written stick, its partition table blank so it will not boot\\); run the command again$`));
    assert.doesNotMatch(String(r.stdout), /wrote|verified/);
    // it stopped writing: the end of the image area still holds the old bytes
    await flushDevice(dev);
    assert.ok((await readRange(backing, MARKER_AT, MARKER.length)).equals(MARKER), 'the flash went on writing to the end after the signal');
    // neither the old partition table nor the new one: the half-written stick offers nothing to boot
    assert.ok((await readRange(backing, 0, 512)).equals(Buffer.alloc(512)), 'sector 0 of the interrupted stick is not blank');
  } finally {
    await detachLoop(dev);
    await removeDir(dir);
  }
}

test('Ctrl-C during the write stops it, says the stick is incomplete, and exits 130', async () => {
  await interruptedRun('SIGINT', 130);
});

test('SIGTERM during the write does the same and exits 143', async () => {
  await interruptedRun('SIGTERM', 143);
});
