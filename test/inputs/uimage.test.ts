import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, truncate, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { assertOneLineError, copyOf, standinDir } from '../fixtures/inputs/standin.js';
import { fakeElf, tinyDtb } from '../fixtures/inputs/make-standin-inputs.js';
import { inspectUImage, kernelVersionFromName } from '../../src/inputs/uimage.js';

let good: Awaited<ReturnType<typeof standinDir>>;
let scratch: string;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  good = await standinDir();
  cleanups.push(good.cleanup);
  scratch = await mkdtemp(join(tmpdir(), 'obsbuild-uimage-test-'));
  cleanups.push(() => rm(scratch, { recursive: true, force: true }));
});
after(async () => {
  for (const c of cleanups) await c();
});

async function patched(patch: (b: Buffer) => void) {
  const bad = await copyOf(good);
  cleanups.push(bad.cleanup);
  const b = await readFile(bad.uimage);
  patch(b);
  await writeFile(bad.uimage, b);
  return bad;
}

/** `mkimage -l`'s fields, to hold our parser against U-Boot's own. */
function parseMkimageList(text: string) {
  const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(text)?.[1];
  return {
    name: field('Image Name'),
    created: field('Created'),
    type: field('Image Type'),
    dataSize: Number(/^(\d+) Bytes/.exec(field('Data Size') ?? '')?.[1]),
    load: parseInt(field('Load Address') ?? '', 16),
    entry: parseInt(field('Entry Point') ?? '', 16),
    parts: [...text.matchAll(/^\s+Image (\d+): (\d+) Bytes/gm)].map((m) => Number(m[2])),
  };
}

test('the header, part table and kernel version agree with `mkimage -l`', async () => {
  const r = await inspectUImage(good.uimage);
  const listed = parseMkimageList(String((await execa('mkimage', ['-l', good.uimage], { env: { TZ: 'UTC' } })).stdout));
  assert.equal(r.header.name, listed.name);
  assert.equal(`${r.header.archName} ${r.header.osName} ${r.header.typeName} (${r.header.compName})`, listed.type);
  assert.equal(r.header.dataSize, listed.dataSize);
  assert.equal(r.header.load, listed.load);
  assert.equal(r.header.entry, listed.entry);
  assert.deepEqual(r.parts.map((p) => p.size), listed.parts);
  assert.equal(new Date(r.header.time * 1000).toUTCString().replace(/^\w+, /, ''), new Date(`${listed.created} UTC`).toUTCString().replace(/^\w+, /, ''));
  assert.deepEqual(r.parts.map((p) => [p.role, p.content]), [['kernel', 'gzip'], ['ramdisk', 'gzip'], ['device tree', 'fdt']]);
  assert.equal(r.parts[2].fdtTotalSize, r.parts[2].size);
  // Parts start on 4-byte boundaries after the 0-terminated size table.
  assert.equal(r.parts[0].offset, 64 + 4 * 4);
  for (const p of r.parts) assert.equal(p.offset % 4, 0);
  assert.equal(r.kernelVersion, '2.6.29-obs600');
  assert.equal(r.kernelVersionSource, 'kernel');
  assert.deepEqual(r.warnings, []);
});

test('wrong magic: exit 1, one line naming the uImage', async () => {
  const bad = await patched((b) => { b[0] ^= 0xff; });
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), 'uImage.initrd-cfboot', /not a U-Boot image \(magic 0xd8051956, expected 0x27051956\)/);
});

test('wrong header CRC: exit 1, one line naming the uImage', async () => {
  const bad = await patched((b) => { b[40] ^= 0x20; }); // a letter of the name
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), 'uImage.initrd-cfboot', /bad U-Boot header CRC/);
});

test('wrong data CRC: exit 1, one line naming the uImage', async () => {
  const bad = await patched((b) => { b[64 + 16 + 5000] ^= 0x01; });
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), 'uImage.initrd-cfboot', /bad U-Boot data CRC/);
});

test('a truncated uImage is refused before anything else', async () => {
  const bad = await copyOf(good);
  cleanups.push(bad.cleanup);
  await truncate(bad.uimage, (await stat(bad.uimage)).size - 100);
  await assert.rejects(inspectUImage(bad.uimage), /truncated: the header announces \d+ bytes of data, the file holds \d+/);
});

test('an uncompressed single kernel image: version found by scanning the raw kernel', async () => {
  const kernel = Buffer.concat([fakeElf('powerpc', 'k', 70_000), Buffer.from('\0Linux version 2.6.29.6-obs600-1 (a@b) (gcc) #2\n\0'), Buffer.alloc(3000)]);
  await writeFile(join(scratch, 'vmlinux.bin'), kernel);
  const out = join(scratch, 'uImage.raw');
  await execa('mkimage', ['-A', 'ppc', '-O', 'linux', '-T', 'kernel', '-C', 'none', '-a', '0', '-e', '0', '-n', 'no version here', '-d', join(scratch, 'vmlinux.bin'), out]);
  const r = await inspectUImage(out);
  assert.equal(r.header.typeName, 'Kernel Image');
  assert.equal(r.kernelVersion, '2.6.29.6-obs600-1');
  assert.equal(r.kernelVersionSource, 'kernel');
  assert.deepEqual(r.parts.map((p) => p.size), [kernel.length]);
});

test('no banner in the kernel: the version comes from the image name', async () => {
  await writeFile(join(scratch, 'k.gz'), gzipSync(Buffer.alloc(10_000, 7)));
  await writeFile(join(scratch, 'r.gz'), gzipSync(Buffer.alloc(1000)));
  await writeFile(join(scratch, 'd.dtb'), tinyDtb());
  const out = join(scratch, 'uImage.named');
  await execa('mkimage', ['-A', 'ppc', '-O', 'linux', '-T', 'multi', '-C', 'gzip', '-n', 'OBS600 2.6.29-obs600', '-d', ['k.gz', 'r.gz', 'd.dtb'].map((n) => join(scratch, n)).join(':'), out]);
  const r = await inspectUImage(out);
  assert.equal(r.kernelVersion, '2.6.29-obs600');
  assert.equal(r.kernelVersionSource, 'name');
});

test('an image for another architecture is refused; two-part images are flagged', async () => {
  const out = join(scratch, 'uImage.arm');
  await writeFile(join(scratch, 'k2.gz'), gzipSync(Buffer.from('Linux version 5.10.0-arm (x@y) #1\n'.padEnd(200, '\0'))));
  await writeFile(join(scratch, 'r2.gz'), gzipSync(Buffer.alloc(100)));
  await execa('mkimage', ['-A', 'arm', '-O', 'linux', '-T', 'multi', '-C', 'gzip', '-n', 'x', '-d', `${join(scratch, 'k2.gz')}:${join(scratch, 'r2.gz')}`, out]);
  await assert.rejects(inspectUImage(out), /uImage\.arm: a U-Boot image for ARM, not PowerPC/);
  const r = await inspectUImage(out, { expectArch: null });
  assert.equal(r.parts.length, 2);
  assert.equal(r.kernelVersion, '5.10.0-arm');
  assert.ok(r.warnings.some((w) => /2 parts; the board boots kernel \+ ramdisk \+ device tree/.test(w)), r.warnings.join('\n'));
  // a board whose U-Boot boots kernel + ramdisk (vobs) takes the same image without a word
  const two = await inspectUImage(out, { expectArch: null, expectParts: 2 });
  assert.deepEqual(two.warnings, []);
});

test('kernel version from image names', () => {
  assert.equal(kernelVersionFromName('OBS600 2.6.29-obs600'), '2.6.29-obs600');
  assert.equal(kernelVersionFromName('Linux-3.10.25'), '3.10.25');
  assert.equal(kernelVersionFromName('ramdisk'), undefined);
});

test('CRC-32 is the IEEE/zlib one U-Boot uses', async () => {
  const { crc32, crc32Portable } = await import('../../src/inputs/uimage.js');
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32Portable(Buffer.from('123456789')), 0xcbf43926);
  const data = await readFile(good.uimage);
  assert.equal(crc32Portable(data.subarray(64)), crc32(data.subarray(64)));
  assert.equal(crc32(Buffer.from('56789'), crc32(Buffer.from('1234'))), 0xcbf43926);
});
