import { blockMapPathFor, formatBlockMap } from '../../src/contracts/block-map.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export const MiB = 1024 * 1024;

export async function tempDir(prefix = 'obsbuild-flash-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256(await readFile(file));
}

export interface Range {
  start: number;
  length: number;
}

/**
 * A stick-like test image: a sparse file with an MBR (one partition from 1 MiB, written by sfdisk)
 * and random data in `ranges`, plus the block map listing block 0 and those ranges.
 */
export async function makeSparseImage(dir: string, size: number, ranges: Range[], name = 'stick.img'): Promise<{ image: string; map: string; ranges: Range[] }> {
  const image = path.join(dir, name);
  await writeFile(image, '');
  await execa('truncate', ['-s', String(size), image]);
  await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], { input: 'label: dos\nstart=2048, type=83\n' });
  const fh = await open(image, 'r+');
  const all: Range[] = [{ start: 0, length: 4096 }, ...ranges];
  const entries = [];
  try {
    for (const r of ranges) await fh.write(randomBytes(r.length), 0, r.length, r.start);
    for (const r of all) {
      const buf = Buffer.alloc(r.length);
      await fh.read(buf, 0, r.length, r.start);
      entries.push({ start: r.start, length: r.length, sha256: sha256(buf) });
    }
  } finally {
    await fh.close();
  }
  const map = blockMapPathFor(image);
  await writeFile(map, formatBlockMap({ imageSize: size, blockSize: 4096, ranges: entries }));
  return { image, map, ranges: all };
}

/** A backing file full of old junk, like a used stick. */
export async function makeJunkFile(file: string, size: number): Promise<void> {
  await writeFile(file, randomBytes(size));
}

/** losetup a file we created; always detached by the caller's finally via the returned detach. */
export async function attachLoop(file: string, opts: { partscan?: boolean } = {}): Promise<string> {
  const args = ['-f', '--show', ...(opts.partscan ? ['-P'] : []), file];
  const r = await execa('losetup', args);
  const dev = String(r.stdout).trim();
  if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`losetup gave ${dev}`);
  return dev;
}

export async function detachLoop(dev: string | undefined): Promise<void> {
  if (!dev) return;
  await execa('losetup', ['-d', dev], { reject: false });
}

/** Flushes the loop device's cache into its backing file so the file shows what the device holds. */
export async function flushDevice(dev: string): Promise<void> {
  await execa('blockdev', ['--flushbufs', dev], { reject: false });
}

export async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, start);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Waits until udev-less kernels have created the partition node (losetup -P is asynchronous). */
export async function waitForPath(p: string, ms = 5000): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      await stat(p);
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}
