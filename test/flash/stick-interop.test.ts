import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { attachLoop, detachLoop, makeJunkFile, MiB, removeDir, tempDir } from './helpers.js';

/**
 * The real stick image (src/stick, built by `obsbuild image`) flashed sparsely over a used stick full
 * of junk must come out as a clean filesystem holding the files: proof that the block map leaves out
 * only bytes the filesystem does not care about.
 */
type Build = (stickDir: string, outImg: string, opts: { fs?: 'ext3' | 'vfat' }) => Promise<{ partitionStart: number }>;

async function stickBuilder(): Promise<Build | undefined> {
  const modulePath = '../../src/stick/diskimage.js';
  try {
    return ((await import(modulePath)) as { buildStickImage: Build }).buildStickImage;
  } catch {
    return undefined;
  }
}

for (const fs of ['ext3', 'vfat'] as const) {
  test(`a ${fs} stick.img flashed over junk is a clean filesystem with the same files`, async (t) => {
    const build = await stickBuilder();
    if (!build) return t.skip('src/stick/diskimage.ts is not built');
    const dir = await tempDir();
    let dev: string | undefined;
    let part: string | undefined;
    try {
      const msf = path.join(dir, 'stick', 'msf');
      await mkdir(msf, { recursive: true });
      const payload = randomBytes(3 * MiB + 123);
      await writeFile(path.join(msf, 'rootfs.tgz'), payload);
      await writeFile(path.join(msf, 'msf_init.sh'), '#!/bin/sh\necho obsbuild-install: done\n');
      const image = path.join(dir, 'stick.img');
      const info = await build(path.join(dir, 'stick'), image, { fs });
      const backing = path.join(dir, 'used-stick.img');
      await makeJunkFile(backing, 32 * MiB);
      dev = await attachLoop(backing);
      const r = await runCli(['flash', dev, '--image', image, '--yes', '--force-unsafe-target']);
      assert.equal(r.exitCode, 0, String(r.stderr));
      await execa('blockdev', ['--flushbufs', dev]);
      // the partition, read-only, at its offset in the flashed device's backing file
      part = String((await execa('losetup', ['-f', '--show', '-r', '-o', String(info.partitionStart), backing])).stdout).trim();
      // a loop device number another test just let go may still hold that test's pages: read from the file
      await execa('blockdev', ['--flushbufs', part]);
      if (fs === 'ext3') {
        const fsck = await execa('e2fsck', ['-fn', part], { reject: false });
        assert.equal(fsck.exitCode, 0, `${fsck.stdout}\n${fsck.stderr}`);
        const out = await execa('debugfs', ['-R', 'cat /msf/rootfs.tgz', part], { encoding: 'buffer', stderr: 'ignore' });
        assert.ok(Buffer.from(out.stdout as Uint8Array).equals(payload), 'rootfs.tgz differs');
        assert.match(String((await execa('blkid', ['-o', 'export', part])).stdout), /LABEL=MSF[\s\S]*TYPE=ext3/);
      } else {
        const fsck = await execa('fsck.vfat', ['-n', part], { reject: false });
        assert.equal(fsck.exitCode, 0, `${fsck.stdout}\n${fsck.stderr}`);
        const copy = path.join(dir, 'copy.tgz');
        await execa('mcopy', ['-n', '-i', part, '::msf/rootfs.tgz', copy]);
        assert.ok((await readFile(copy)).equals(payload), 'rootfs.tgz differs');
      }
    } finally {
      await detachLoop(part);
      await detachLoop(dev);
      await removeDir(dir);
    }
  });
}
