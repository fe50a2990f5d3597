import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyToStickDir } from '../../src/stick/stickdir.js';
import { UserError } from '../../src/util/errors.js';
import { makeStickFolder, type StickFixture } from './fixtures.js';
import { attachLoop, detachLoop } from './loop.js';

type Mkfs = (img: string) => [string, string[]];
const fat = (label: string, kib: number): Mkfs => (img) => ['mkfs.vfat', ['-C', '-n', label, img, String(kib)]];
const ext = (type: string, label: string, mib: number): Mkfs => (img) => {
  execFileSync('truncate', ['-s', `${mib}M`, img]);
  return ['mke2fs', ['-q', '-F', '-t', type, '-L', label, img]];
};

/**
 * A stick formatted and labelled by hand, as in the guide (here without a partition table: the
 * filesystem on the whole device), mounted at a temp dir during `body`, then unmounted and detached.
 */
async function withHandmadeStick(dir: string, name: string, mkfs: Mkfs, body: (mnt: string, dev: string) => Promise<void>): Promise<void> {
  const img = join(dir, `${name}.img`);
  const mnt = join(dir, `${name}.mnt`);
  await mkdir(mnt);
  const [cmd, args] = mkfs(img);
  execFileSync(cmd, args, { stdio: 'ignore' });
  let dev: string | undefined;
  let mounted = false;
  try {
    dev = attachLoop(img);
    execFileSync('mount', [dev, mnt]);
    mounted = true;
    await body(mnt, dev);
  } finally {
    if (mounted) execFileSync('umount', [mnt]);
    detachLoop(dev);
  }
}

// Some CI kernels (e.g. Firecracker builds) have no vfat driver: FAT sticks can then only be tested
// through the image (mtools), not mounted.
const kernelHasVfat = readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim() === 'vfat');

/** msf/ as an earlier copy left it: a file that copy wrote, listed in its MD5SUMS, which this one does not write. */
async function oldCopy(mnt: string): Promise<void> {
  await mkdir(join(mnt, 'msf'));
  await writeFile(join(mnt, 'msf', 'stale-from-last-time.txt'), 'old');
  await writeFile(join(mnt, 'msf', 'MD5SUMS'), `${createHash('md5').update('old').digest('hex')}  stale-from-last-time.txt\n`);
}

describe('--stick-dir', { timeout: 60_000 }, () => {
  let dir: string;
  let fx: StickFixture;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obsbuild-stickdir-'));
    fx = await makeStickFolder(join(dir, 'build'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies msf/ onto a FAT stick labelled MSF, replacing an old msf/, byte for byte', { skip: kernelHasVfat ? false : 'this kernel has no vfat driver' }, async () => {
    await withHandmadeStick(dir, 'fat', fat('MSF', 16 * 1024), async (mnt, dev) => {
      await oldCopy(mnt);
      await writeFile(join(mnt, 'README.TXT'), 'left alone');
      const r = await copyToStickDir(fx.msfDir, mnt);
      assert.equal(r.source, dev);
      assert.equal(r.fstype, 'vfat');
      const want = (await readdir(fx.msfDir)).sort();
      assert.deepEqual((await readdir(join(mnt, 'msf'))).sort(), want);
      for (const f of want) assert.ok((await readFile(join(mnt, 'msf', f))).equals(await readFile(join(fx.msfDir, f))), f);
      assert.deepEqual((await readdir(mnt)).sort(), ['README.TXT', 'msf'], 'no temporary folders left behind');
      execFileSync('md5sum', ['-c', '--quiet', 'MD5SUMS'], { cwd: join(mnt, 'msf') });
    });
  });

  it('copies msf/ onto an ext3 stick labelled MSF, replacing an old msf/, byte for byte', async () => {
    await withHandmadeStick(dir, 'ext3', ext('ext3', 'MSF', 16), async (mnt, dev) => {
      await oldCopy(mnt);
      const r = await copyToStickDir(fx.msfDir, mnt);
      assert.equal(r.source, dev);
      assert.equal(r.fstype, 'ext3');
      const want = (await readdir(fx.msfDir)).sort();
      assert.deepEqual((await readdir(join(mnt, 'msf'))).sort(), want);
      for (const f of want) assert.ok((await readFile(join(mnt, 'msf', f))).equals(await readFile(join(fx.msfDir, f))), f);
      assert.deepEqual((await readdir(mnt)).sort(), ['lost+found', 'msf'], 'no temporary folders left behind');
    });
  });

  it("replaces an msf/ holding only the files it writes (Plat'Home's own layout), and refuses one holding anything else", async () => {
    await withHandmadeStick(dir, 'foreign', ext('ext2', 'MSF', 16), async (mnt) => {
      // the names this copy writes, other content, no MD5SUMS: a stick made by hand from the guide
      await mkdir(join(mnt, 'msf'));
      for (const f of await readdir(fx.msfDir)) if (f !== 'MD5SUMS') await writeFile(join(mnt, 'msf', f), 'from the guide');
      await copyToStickDir(fx.msfDir, mnt);
      execFileSync('md5sum', ['-c', '--quiet', 'MD5SUMS'], { cwd: join(mnt, 'msf') });
      // a file of the user's in msf/, and one in a folder of its own: neither is deleted
      await writeFile(join(mnt, 'msf', 'my-notes.txt'), 'mine');
      await mkdir(join(mnt, 'msf', 'extra'));
      await writeFile(join(mnt, 'msf', 'extra', 'tool.sh'), 'mine too');
      const before = (await readdir(join(mnt, 'msf'))).sort();
      await assert.rejects(copyToStickDir(fx.msfDir, mnt), (e: unknown) =>
        e instanceof UserError && e.code === 'target-refused' &&
        e.message === `${join(mnt, 'msf')}: holds 2 files obsbuild did not write (extra/tool.sh, my-notes.txt); move them off the stick and run again; nothing was copied`);
      assert.deepEqual((await readdir(join(mnt, 'msf'))).sort(), before);
      assert.equal(await readFile(join(mnt, 'msf', 'my-notes.txt'), 'utf8'), 'mine');
      assert.deepEqual((await readdir(mnt)).sort(), ['lost+found', 'msf'], 'no temporary folder left behind');
      // msf as a symlink is not a stick folder
      await rm(join(mnt, 'msf'), { recursive: true });
      await symlink('/etc', join(mnt, 'msf'));
      await assert.rejects(copyToStickDir(fx.msfDir, mnt), /msf: is a symlink, not a stick folder/);
    });
  });

  it('refuses a wrong label, saying how to fix it, and writes nothing', async () => {
    await withHandmadeStick(dir, 'wronglabel', ext('ext2', 'BACKUP', 16), async (mnt, dev) => {
      await assert.rejects(copyToStickDir(fx.msfDir, mnt), (e: unknown) =>
        e instanceof UserError && e.message.includes('labelled "BACKUP"') && e.message.includes(`e2label ${dev} MSF`));
      assert.deepEqual((await readdir(mnt)).sort(), ['lost+found']);
    });
  });

  it('refuses a stick without room and writes nothing', async () => {
    await withHandmadeStick(dir, 'tiny', ext('ext2', 'MSF', 1), async (mnt) => {
      await assert.rejects(copyToStickDir(fx.msfDir, mnt), (e: unknown) => e instanceof UserError && /needs \d+ MiB free/.test(e.message));
      assert.deepEqual(await readdir(mnt), ['lost+found']);
    });
  });

  it('refuses an ext4 stick and a folder that is not a mount point', async () => {
    await withHandmadeStick(dir, 'ext4', ext('ext4', 'MSF', 16), async (mnt) => {
      await assert.rejects(copyToStickDir(fx.msfDir, mnt), /is ext4; the firmware reads FAT, ext2 or ext3/);
    });
    const plain = join(dir, 'plain');
    await mkdir(plain);
    await assert.rejects(copyToStickDir(fx.msfDir, plain), (e: unknown) => e instanceof UserError && /not the mount point of a stick/.test(e.message));
    assert.deepEqual(await readdir(plain), []);
  });
});
