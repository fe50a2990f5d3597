import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cliPath, runCli } from '../helpers/cli.js';
import {
  attachLoop,
  detachLoop,
  flushDevice,
  makeJunkFile,
  makeSparseImage,
  MiB,
  readRange,
  removeDir,
  sha256,
  sha256File,
  tempDir,
  waitForPath,
} from './helpers.js';

const IMAGE_RANGES = [
  { start: MiB, length: 64 * 1024 },
  { start: 3 * MiB, length: 1536 * 1024 },
  { start: 7 * MiB, length: 4096 },
];

interface Fixture {
  dir: string;
  image: string;
  map: string;
  ranges: { start: number; length: number }[];
  backing: string;
}

/** An 8 MiB stick image and a 16 MiB "used stick" (random junk) to write it to. */
async function fixture(targetSize = 16 * MiB): Promise<Fixture> {
  const dir = await tempDir();
  const img = await makeSparseImage(dir, 8 * MiB, IMAGE_RANGES);
  const backing = path.join(dir, 'target.img');
  await makeJunkFile(backing, targetSize);
  return { dir, ...img, backing };
}

/** Everything the kernel still holds for the device (a mounted filesystem's dirty metadata) goes to the backing file. */
async function settle(dev: string): Promise<void> {
  await execa('sync');
  await flushDevice(dev);
}

/** Runs the CLI against a target and asserts it refused with `re`, leaving the target's bytes as they were. */
async function assertRefused(args: string[], re: RegExp, backing: string, dev?: string): Promise<void> {
  if (dev) await settle(dev);
  const before = await sha256File(backing);
  const r = await runCli(['flash', ...args]);
  assert.equal(r.exitCode, 1, `expected exit 1, got ${r.exitCode}: ${r.stderr}`);
  assert.match(String(r.stderr), re);
  assert.match(String(r.stderr), /nothing was written/);
  if (dev) await settle(dev);
  assert.equal(await sha256File(backing), before, 'the target changed although flash refused');
}

test('flash writes the mapped ranges to a loop device, clears old signatures, verifies, and leaves the rest alone', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing, { partscan: true });
    const old = await readFile(f.backing);
    const r = await runCli(['flash', dev, '--image', f.image, '--yes', '--force-unsafe-target', '--json']);
    assert.equal(r.exitCode, 0, String(r.stderr));
    const report = JSON.parse(String(r.stdout));
    await flushDevice(dev);
    const now = await readFile(f.backing);
    const image = await readFile(f.image);

    // every mapped range is on the device, byte for byte
    for (const range of f.ranges) {
      assert.ok(now.subarray(range.start, range.start + range.length).equals(image.subarray(range.start, range.start + range.length)), `range at ${range.start}`);
    }
    // old signatures cleared: the unmapped parts of the first 512 KiB and the last 256 KiB are zero
    const head = 512 * 1024;
    const tail = 256 * 1024;
    const zero = Buffer.alloc(head);
    assert.ok(now.subarray(4096, head).equals(zero.subarray(0, head - 4096)), 'first 512 KiB after the MBR are not zero');
    assert.ok(now.subarray(now.length - tail).equals(zero.subarray(0, tail)), 'last 256 KiB are not zero');
    // ...and nothing beyond them: the junk-filled worst case stays within the image's ranges + 1 MiB
    assert.ok(now.subarray(head, head + 4096).equals(old.subarray(head, head + 4096)), 'junk after the head zone was written');
    assert.ok(now.subarray(now.length - tail - 4096, now.length - tail).equals(old.subarray(now.length - tail - 4096, now.length - tail)), 'junk before the tail zone was written');
    // sparse: unmapped space elsewhere was not written (the old junk is still there)
    assert.ok(now.subarray(2 * MiB, 3 * MiB).equals(old.subarray(2 * MiB, 3 * MiB)), 'unmapped middle was written');
    assert.ok(now.subarray(9 * MiB, 15 * MiB).equals(old.subarray(9 * MiB, 15 * MiB)), 'space past the image was written');

    const mapped = f.ranges.reduce((n, x) => n + x.length, 0);
    assert.equal(report.mappedBytes, mapped);
    assert.equal(report.clearedBytes, head - 4096 + tail);
    assert.ok(report.clearedBytes <= MiB, 'clearing costs at most 1 MiB even on a junk-filled stick');
    // + the first block, zeroed before the write so a half-written stick has no partition table
    assert.equal(report.bytesWritten, mapped + report.clearedBytes + 4096);
    assert.equal(report.verifiedBytes, mapped);
    assert.equal(report.partitionTableReread, 'ok');
    assert.match(String(r.stderr), /loop device on .*target\.img, serial none, 16\.0 MiB/);
    assert.match(String(r.stderr), /verifying .*100%/);

    // A second run finds the signature zones already clean and writes only the image's ranges.
    const again = await runCli(['flash', dev, '--image', f.image, '--yes', '--force-unsafe-target', '--json']);
    assert.equal(again.exitCode, 0, String(again.stderr));
    assert.equal(JSON.parse(String(again.stdout)).bytesWritten, mapped + 4096);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('without partition scanning the re-read is reported as not supported, and the flash still succeeds', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing);
    const r = await runCli(['flash', dev, '--image', f.image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.match(String(r.stdout), /verified .*partition table re-read: not supported by this device/);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('an image without a block map is written whole and verified', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    const bare = path.join(f.dir, 'bare.img');
    await writeFile(bare, await readFile(f.image));
    dev = await attachLoop(f.backing);
    const r = await runCli(['flash', dev, '--image', bare, '--yes', '--force-unsafe-target', '--json']);
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.equal(JSON.parse(String(r.stdout)).mappedBytes, 8 * MiB);
    await flushDevice(dev);
    assert.equal(sha256(await readRange(f.backing, 0, 8 * MiB)), await sha256File(bare));
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: a target holding a mounted filesystem (even with --force-unsafe-target)', async () => {
  const f = await fixture();
  let dev: string | undefined;
  const mnt = path.join(f.dir, 'mnt');
  let mounted = false;
  try {
    dev = await attachLoop(f.backing);
    // no lazy init: the kernel must not keep writing to the filesystem in the background
    await execa('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', dev]);
    await mkdir(mnt);
    await execa('mount', [dev, mnt]);
    mounted = true;
    await writeFile(path.join(mnt, 'precious.txt'), 'keep me\n');
    await execa('sync');
    await assertRefused([dev, '--image', f.image, '--yes', '--force-unsafe-target'], /holds mounted filesystems \(.* on .*mnt\)/, f.backing, dev);
    assert.equal(await readFile(path.join(mnt, 'precious.txt'), 'utf8'), 'keep me\n');
  } finally {
    if (mounted) await execa('umount', [mnt], { reject: false });
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: a disk whose partition is mounted (the automounted-stick case)', async () => {
  const f = await fixture();
  let dev: string | undefined;
  const mnt = path.join(f.dir, 'mnt');
  let mounted = false;
  try {
    await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', f.backing], { input: 'label: dos\nstart=2048, type=83\n' });
    dev = await attachLoop(f.backing, { partscan: true });
    const part = `${dev}p1`;
    if (!(await waitForPath(part, 1000))) await execa('partx', ['-a', dev]);
    assert.ok(await waitForPath(part), `${part} did not appear`);
    await execa('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', part]);
    await mkdir(mnt);
    await execa('mount', [part, mnt]);
    mounted = true;
    await assertRefused([dev, '--image', f.image, '--yes', '--force-unsafe-target'], new RegExp(`holds mounted filesystems \\(${part} on .*mnt\\)`), f.backing, dev);
  } finally {
    if (mounted) await execa('umount', [mnt], { reject: false });
    if (dev) await execa('partx', ['-d', dev], { reject: false });
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: a partition instead of the whole disk', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    // give the target a partition table, then expose partition 1 (partx, for kernels without MBR parsing)
    await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', f.backing], { input: 'label: dos\nstart=2048, type=83\n' });
    dev = await attachLoop(f.backing, { partscan: true });
    const part = `${dev}p1`;
    if (!(await waitForPath(part, 1000))) await execa('partx', ['-a', dev]);
    assert.ok(await waitForPath(part), `${part} did not appear`);
    await assertRefused([part, '--image', f.image, '--yes', '--force-unsafe-target'], /is a partition .* of \/dev\/loop\d+: give the whole disk/, f.backing, dev);
  } finally {
    if (dev) await execa('partx', ['-d', dev], { reject: false });
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: a target smaller than the image', async () => {
  const f = await fixture(4 * MiB);
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing);
    await assertRefused([dev, '--image', f.image, '--yes', '--force-unsafe-target'], /too small: 4\.0 MiB \(4194304 bytes\) for an image of 8\.0 MiB/, f.backing, dev);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: a regular file and a missing path (nothing is created)', async () => {
  const f = await fixture();
  try {
    await assertRefused([f.backing, '--image', f.image, '--yes', '--force-unsafe-target'], /not a block device \(a regular file\)/, f.backing);
    const missing = path.join(f.dir, 'sdz-does-not-exist');
    const r = await runCli(['flash', missing, '--image', f.image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /no such device/);
    await assert.rejects(stat(missing), { code: 'ENOENT' });
  } finally {
    await removeDir(f.dir);
  }
});

test('refused: a fixed (non-removable, non-USB) disk without --force-unsafe-target', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing);
    await assertRefused([dev, '--image', f.image, '--yes'], /neither removable nor on USB/, f.backing, dev);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: --serial that does not match the device', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing);
    await assertRefused([dev, '--image', f.image, '--yes', '--force-unsafe-target', '--serial', '4C530001'], /has serial none, not "4C530001"/, f.backing, dev);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('refused: no --yes when stdin is not a terminal', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing);
    await assertRefused([dev, '--image', f.image, '--force-unsafe-target'], /stdin is not a terminal, pass --yes/, f.backing, dev);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

/** Runs the CLI with a pseudo-terminal as stdin (util-linux `script`), typing `answer`. */
async function runOnTerminal(args: string[], answer: string) {
  const cmd = [process.execPath, cliPath, ...args].map((a) => `'${a}'`).join(' ');
  return execa('script', ['-qec', cmd, '/dev/null'], { input: `${answer}\n`, reject: false });
}

test('on a terminal the user must type yes, even with --yes', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    dev = await attachLoop(f.backing);
    await settle(dev);
    const before = await sha256File(f.backing);
    const no = await runOnTerminal(['flash', dev, '--image', f.image, '--yes', '--force-unsafe-target'], 'no');
    assert.equal(no.exitCode, 1, String(no.stdout));
    assert.match(String(no.stdout), /Type 'yes' to write it/);
    assert.match(String(no.stdout), /not confirmed; nothing was written/);
    await settle(dev);
    assert.equal(await sha256File(f.backing), before);
    const yes = await runOnTerminal(['flash', dev, '--image', f.image, '--force-unsafe-target'], 'yes');
    assert.equal(yes.exitCode, 0, String(yes.stdout));
    assert.match(String(yes.stdout), /read back and verified/);
    assert.match(String(yes.stdout), /\r?\x1b\[Kverifying .*100%/); // the redrawn bar on a terminal
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('an image that does not match its block map fails the flash with the range named, blaming the image', async () => {
  const f = await fixture();
  let dev: string | undefined;
  try {
    const fh = await import('node:fs/promises').then((m) => m.open(f.image, 'r+'));
    await fh.write(Buffer.from('X'), 0, 1, 3 * MiB + 100);
    await fh.close();
    dev = await attachLoop(f.backing);
    const r = await runCli(['flash', dev, '--image', f.image, '--yes', '--force-unsafe-target']);
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /stick\.img does not match its block map at offset 3145728, length 1572864 .*damaged; rebuild the image/);
    assert.doesNotMatch(String(r.stderr), /stick may be faulty/);
  } finally {
    await detachLoop(dev);
    await removeDir(f.dir);
  }
});

test('without --image, the one out/*/stick.img is used; none or several is an error', async () => {
  const dir = await tempDir();
  try {
    let r = await runCli(['flash', '/dev/null-nothing'], { cwd: dir });
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /no stick image found; run obsbuild image first or pass --image/);
    await mkdir(path.join(dir, 'out', 'lb1'), { recursive: true });
    await makeSparseImage(path.join(dir, 'out', 'lb1'), 2 * MiB, []);
    r = await runCli(['flash', path.join(dir, 'missing-dev')], { cwd: dir });
    assert.match(String(r.stderr), /missing-dev: no such device/); // got past image selection
    await mkdir(path.join(dir, 'out', 'lb2'), { recursive: true });
    await makeSparseImage(path.join(dir, 'out', 'lb2'), 2 * MiB, []);
    r = await runCli(['flash', path.join(dir, 'missing-dev')], { cwd: dir });
    assert.match(String(r.stderr), /several stick images .*pass --image/);
  } finally {
    await removeDir(dir);
  }
});

test('flash without a device is a usage error; --help documents the dangerous flag', async () => {
  const r = await runCli(['flash', '--image', '/nonexistent.img']);
  assert.equal(r.exitCode, 2);
  const h = await runCli(['flash', '--help']);
  assert.match(String(h.stdout), /--force-unsafe-target\s+DANGEROUS/);
});

test('--list --json lists only removable or USB disks', async () => {
  const r = await runCli(['flash', '--list', '--json']);
  assert.equal(r.exitCode, 0, String(r.stderr));
  const disks = JSON.parse(String(r.stdout)) as { name: string; removable: boolean; usb: boolean; isPartition: boolean }[];
  assert.ok(Array.isArray(disks));
  for (const d of disks) assert.ok((d.removable || d.usb) && !d.isPartition, `${d.name} listed`);
});
