import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { firstPartitionOffset } from '../../src/vobs/disks.js';

/**
 * Flip bytes inside one file of an ext2/3 stick image, in place, the way a bad copy or a failing stick
 * would: the file's first data block (found with debugfs) gets its first 16 bytes inverted.
 */
export async function corruptFileInStick(image: string, path: string): Promise<void> {
  const offset = await firstPartitionOffset(image);
  const dev = `${image}?offset=${offset}`;
  const blocks = execFileSync('debugfs', ['-R', `blocks ${path}`, dev], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => n > 0);
  if (blocks.length === 0) throw new Error(`${path}: no data blocks in ${image}`);
  const stats = execFileSync('dumpe2fs', ['-h', dev], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const blockSize = Number(/^Block size:\s+(\d+)/m.exec(stats)?.[1] ?? 4096);
  const fh = await open(image, 'r+');
  try {
    const at = offset + blocks[Math.floor(blocks.length / 2)] * blockSize;
    const buf = Buffer.alloc(16);
    await fh.read(buf, 0, 16, at);
    for (let i = 0; i < buf.length; i++) buf[i] ^= 0xff;
    await fh.write(buf, 0, 16, at);
  } finally {
    await fh.close();
  }
}
