/**
 * `--packages DIR` and Packages/Release text from someone else: a Filename may only name a regular file
 * inside DIR, and reading an index costs time and memory in proportion to it, within caps.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseReleaseSums } from '../../src/debian/mirror.js';
import { buildIndexFromDebs, loadPackagesDir, readPackagesIndex } from '../../src/debian/packages-index.js';
import { UserError } from '../../src/util/errors.js';
import { makeDeb } from '../fixtures/debs/make-deb.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-index-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));

let folders = 0;
function folder(index: string, setup: (dir: string) => void = () => {}): string {
  const dir = join(work, `dir${folders++}`);
  mkdirSync(dir);
  setup(dir);
  writeFileSync(join(dir, 'Packages'), index);
  return dir;
}

const entry = (filename: string) => `Package: evil\nVersion: 1\nArchitecture: powerpc\nFilename: ${filename}\nSize: 1\nMD5sum: ${'0'.repeat(32)}\n`;

/** Fails (instead of hanging the test run) when `work` takes longer than `ms`. */
async function within<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)));
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('--packages DIR: a Filename with .. or an absolute one is refused, not looked up outside the folder', async () => {
  const outside = join(work, 'outside.deb');
  writeFileSync(outside, 'x');
  for (const [filename, why] of [
    ['../outside.deb', "climbs out of the archive with '..'"],
    ['pool/../../outside.deb', "climbs out of the archive with '..'"],
    [outside, 'is an absolute path; it must be relative to the archive root'],
  ]) {
    const dir = folder(entry(filename));
    await assert.rejects(() => loadPackagesDir(dir), new UserError(`${join(dir, 'Packages')}: package evil 1: Filename '${filename}' ${why}`, { code: 'package-invalid' }));
  }
});

test('--packages DIR: a Filename naming /dev/zero through a symlink, a link out of the folder, or a FIFO is refused', async () => {
  const zero = folder(entry('pool/zero.deb'), (dir) => {
    mkdirSync(join(dir, 'pool'));
    symlinkSync('/dev/zero', join(dir, 'pool/zero.deb'));
  });
  await assert.rejects(() => within(5000, () => loadPackagesDir(zero)), new UserError(`${join(zero, 'pool/zero.deb')}: leads out of the packages folder (to /dev/zero)`, { code: 'package-invalid' }));

  const elsewhere = join(work, 'elsewhere.deb');
  writeFileSync(elsewhere, 'x');
  const linked = folder(entry('x.deb'), (dir) => symlinkSync(elsewhere, join(dir, 'x.deb')));
  await assert.rejects(() => loadPackagesDir(linked), /x\.deb: leads out of the packages folder/);

  const fifo = folder(entry('fifo.deb'), (dir) => execFileSync('mkfifo', [join(dir, 'fifo.deb')]));
  await assert.rejects(() => within(5000, () => loadPackagesDir(fifo)), new UserError(`${join(fifo, 'fifo.deb')}: not a regular file`, { code: 'package-invalid' }));

  // A symlink that stays inside the folder is fine (pool/ layouts link between suites).
  const inside = folder('', (dir) => {
    const deb = makeDeb(dir, { name: 'ok', version: '1', files: [] });
    mkdirSync(join(dir, 'pool'));
    symlinkSync(deb, join(dir, 'pool/ok.deb'));
  });
  writeFileSync(join(inside, 'Packages'), 'Package: ok\nVersion: 1\nArchitecture: powerpc\nFilename: pool/ok.deb\n');
  assert.equal((await loadPackagesDir(inside))[0].localPath, join(inside, 'pool/ok.deb'));
});

test('--packages DIR: an index or a .deb that is a device or a FIFO is refused without reading or waiting', async () => {
  const zeroIndex = join(work, 'zero-index');
  mkdirSync(zeroIndex);
  symlinkSync('/dev/zero', join(zeroIndex, 'Packages'));
  await assert.rejects(() => within(5000, () => loadPackagesDir(zeroIndex)), new UserError(`${join(zeroIndex, 'Packages')}: not a regular file`, { code: 'package-invalid' }));

  const fifoIndex = join(work, 'fifo-index');
  mkdirSync(fifoIndex);
  execFileSync('mkfifo', [join(fifoIndex, 'Packages.gz')]);
  await assert.rejects(() => within(5000, () => loadPackagesDir(fifoIndex)), new UserError(`${join(fifoIndex, 'Packages.gz')}: not a regular file`, { code: 'package-invalid' }));

  // No index: the folder's .deb files are read, and only regular ones.
  const fifoDeb = join(work, 'fifo-deb');
  mkdirSync(fifoDeb);
  execFileSync('mkfifo', [join(fifoDeb, 'a.deb')]);
  await assert.rejects(() => within(5000, () => buildIndexFromDebs(fifoDeb)), new UserError(`${join(fifoDeb, 'a.deb')}: not a regular file`, { code: 'package-invalid' }));
  symlinkSync('/dev/zero', join(work, 'fifo-deb/b.deb'));
  rmSync(join(fifoDeb, 'a.deb'));
  await assert.rejects(() => within(5000, () => buildIndexFromDebs(fifoDeb)), /b\.deb: leads out of the packages folder \(to \/dev\/zero\)/);
});

test('a Packages index is read within caps: line length, fields per stanza, number of stanzas, unpacked size', async () => {
  const file = join(work, 'Packages');
  writeFileSync(file, `Package: a\nVersion: 1\nDescription: ${'x'.repeat(2 << 20)}\n`);
  await assert.rejects(() => readPackagesIndex(file), new UserError(`${file}:3: line longer than 1048576 characters`, { code: 'package-invalid' }));

  // An endless line without a newline (as /dev/zero would give) stops at the cap too, however it is chunked.
  writeFileSync(file, Buffer.alloc(3 << 20, 0x41));
  await assert.rejects(() => readPackagesIndex(file), new UserError(`${file}:1: line longer than 1048576 characters`, { code: 'package-invalid' }));

  writeFileSync(file, `Package: a\nVersion: 1\n${Array.from({ length: 300 }, (_, i) => `X-F${i}: v`).join('\n')}\n`);
  await assert.rejects(() => readPackagesIndex(file), new UserError(`${file}:257: stanza with more than 256 fields`, { code: 'package-invalid' }));

  writeFileSync(file, Array.from({ length: 200_001 }, (_, i) => `Package: p${i}\nVersion: 1\n`).join('\n'));
  await assert.rejects(() => readPackagesIndex(file), new UserError(`${file}:600002: more than 200000 stanzas`, { code: 'package-invalid' }));

  // 300 MiB of comment lines, packed to a few hundred kB: the unpacking stops at 256 MiB.
  const gz = join(work, 'bomb-Packages.gz');
  const line = `#${'c'.repeat(1023)}\n`;
  writeFileSync(gz, gzipSync(Buffer.from(line.repeat(300 * 1024))));
  const started = process.hrtime.bigint();
  await assert.rejects(() => readPackagesIndex(gz), new UserError(`${gz}: unpacks to more than 268435456 bytes, more than any Debian index`, { code: 'package-invalid' }));
  process.stdout.write(`# 300 MiB gzip bomb: refused after ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms\n`);
});

test('reading an index is linear: blanks inside a value, a long stanza over many chunks', async () => {
  // A value with 200 000 blanks in its middle: a trailing-blank regex would backtrack over them for each one.
  const file = join(work, 'Packages-blanks');
  writeFileSync(file, `Package: a\nVersion: 1\nDepends: b${' '.repeat(200_000)}, c\n`);
  let started = process.hrtime.bigint();
  const [a] = await within(10_000, () => readPackagesIndex(file));
  const blanksMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.deepEqual(a.depends.map((g) => g[0].name), ['b', 'c']);

  // One stanza of 4 MiB less a little, in continuation lines, arriving in 64 kB chunks.
  const long = join(work, 'Packages-long');
  writeFileSync(long, `Package: a\nVersion: 1\nDescription: d\n${` ${'y'.repeat(99)}\n`.repeat(40_000)}`);
  started = process.hrtime.bigint();
  assert.equal((await within(10_000, () => readPackagesIndex(long))).length, 1);
  const longMs = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`# 200 000 inner blanks: ${blanksMs.toFixed(0)} ms; one 4 MB stanza in 64 kB chunks: ${longMs.toFixed(0)} ms\n`);
  assert.ok(blanksMs < 2000 && longMs < 2000, `${blanksMs} ms, ${longMs} ms`);
});

test('a Release file is read within caps, and its sizes must be numbers', () => {
  assert.throws(() => parseReleaseSums(`Origin: x\nLabel: ${'x'.repeat(70_000)}\n`, 'R'), new UserError('R:2: line longer than 65536 characters', { code: 'package-invalid' }));
  assert.throws(() => parseReleaseSums('Origin: x\n\nOrigin: y\n', 'R'), new UserError('R:3: more than 1 stanzas', { code: 'package-invalid' }));
  assert.throws(() => parseReleaseSums(`SHA256:\n ${'a'.repeat(64)} 1e9 main/binary-powerpc/Packages.gz\n`, 'R'), new UserError("R: SHA256 entry for main/binary-powerpc/Packages.gz has size '1e9', not a number of bytes", { code: 'package-invalid' }));
  assert.deepEqual(parseReleaseSums(`SHA256:\n ${'A'.repeat(64)} 12 main/binary-powerpc/Packages.gz\n`, 'R').get('main/binary-powerpc/Packages.gz'), { size: 12, sha256: 'a'.repeat(64) });
});
