import { open } from 'node:fs/promises';
import { runTool } from '../util/run-tool.js';
import { splitUImage } from './uimage.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The board's disks as files: an empty (sparse) CF card and a blank flash. */
export async function createBlankDisk(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.truncate(bytes);
  } finally {
    await fh.close();
  }
}

export const CF_DEFAULT_BYTES = 1024 * 1024 * 1024;
export const FLASH_BYTES = 64 * 1024;

/** The boot source flashcfg recorded in the board's flash (`bootsource=cf`), or undefined when blank. */
export async function readBootSource(flashImage: string): Promise<string | undefined> {
  const fh = await open(flashImage, 'r');
  try {
    const buf = Buffer.alloc(512);
    await fh.read(buf, 0, 512, 0);
    return /^bootsource=([a-z0-9]+)\n/.exec(buf.toString('latin1'))?.[1];
  } finally {
    await fh.close();
  }
}

/** Start of the first partition of an MBR disk image, in bytes (0 when there is no partition table). */
export async function firstPartitionOffset(image: string): Promise<number> {
  const fh = await open(image, 'r');
  try {
    const mbr = Buffer.alloc(512);
    await fh.read(mbr, 0, 512, 0);
    if (mbr.readUInt16LE(510) !== 0xaa55) return 0;
    return mbr.readUInt32LE(446 + 8) * 512;
  } finally {
    await fh.close();
  }
}

/**
 * Read one file from the ext2/3 filesystem in the CF card's first partition, without mounting it (debugfs
 * on a copy-free offset: `-o` is not in debugfs, so the partition is addressed with the `?offset=` syntax).
 */
export async function readFromCf(cfImage: string, path: string, dest: string): Promise<void> {
  const offset = await firstPartitionOffset(cfImage);
  await runTool('debugfs', ['-R', `dump ${path} ${dest}`, `${cfImage}?offset=${offset}`], { what: `reading ${path} from the CF card` });
}

/** Whether the kernel in the CF card's /uImage.initrd-cfboot is byte for byte the given one. */
export async function cfKernelMatches(cfImage: string, kernel: Buffer): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-cf-'));
  try {
    const copy = join(dir, 'uImage');
    await readFromCf(cfImage, '/uImage.initrd-cfboot', copy);
    const parts = await splitUImage(copy);
    return parts.kernel.equals(kernel);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
