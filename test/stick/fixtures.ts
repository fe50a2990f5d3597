import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderInstaller } from '../../src/box/installer.js';
import { writeMd5sums } from '../../src/stick/md5sums.js';

/** Stand-ins for Plat'Home's files and the overlay, small but shaped like the real ones. */
export const ROOTFS_NAME = 'lenny-powerpc-obs600-20100119-00.tar.gz';
export const KERNEL_VERSION = '2.6.29-obs600';

export interface StickFixture {
  stickDir: string;
  msfDir: string;
  /** bytes of selected files as placed in the stick's msf/ and inside the tarballs */
  uImage: Buffer;
  ipvsModule: Buffer;
  keepalivedConf: string;
  debianVersion: string;
}

function tarGz(srcDir: string, out: string): void {
  execFileSync('tar', ['-C', srcDir, '--numeric-owner', '--sort=name', '-czf', out, '.']);
}

export async function makeStickFolder(root: string, opts: { cfDevice?: string; minCfBytes?: number; manifestId?: string } = {}): Promise<StickFixture> {
  const stickDir = join(root, 'stick');
  const msfDir = join(stickDir, 'msf');
  await mkdir(msfDir, { recursive: true });

  const rootfs = join(root, 'rootfs');
  const debianVersion = '5.0.3\n';
  for (const d of ['etc', 'sbin', 'bin', 'dev', 'home/user', 'lib/modules']) await mkdir(join(rootfs, d), { recursive: true });
  await writeFile(join(rootfs, 'etc/debian_version'), debianVersion);
  await writeFile(join(rootfs, 'etc/hostname'), 'lenny\n');
  await writeFile(join(rootfs, 'sbin/init'), '#!/bin/sh\nexec /bin/sh\n');
  await chmod(join(rootfs, 'sbin/init'), 0o755);
  await writeFile(join(rootfs, 'home/user/notes.txt'), 'owned by uid 1000\n');
  await chown(join(rootfs, 'home/user/notes.txt'), 1000, 1000);
  await symlink('../sbin/init', join(rootfs, 'bin/init-link'));
  execFileSync('mknod', [join(rootfs, 'dev/console'), 'c', '5', '1']);
  tarGz(rootfs, join(msfDir, ROOTFS_NAME));

  const overlay = join(root, 'overlay');
  await mkdir(join(overlay, 'etc/keepalived'), { recursive: true });
  const keepalivedConf = 'virtual_server 192.168.253.120 80 {\n    lb_algo wlc\n}\n';
  await writeFile(join(overlay, 'etc/keepalived/keepalived.conf'), keepalivedConf);
  await writeFile(join(overlay, 'etc/hostname'), 'obs600\n');
  tarGz(overlay, join(msfDir, 'obsbuild-overlay.tgz'));

  const kern = join(root, 'kern');
  const modDir = join(kern, 'lib/modules', KERNEL_VERSION, 'kernel/net/netfilter/ipvs');
  await mkdir(modDir, { recursive: true });
  const ipvsModule = Buffer.concat([Buffer.from('\x7fELF'), randomBytes(20000)]);
  await writeFile(join(modDir, 'ip_vs.ko'), ipvsModule);
  tarGz(kern, join(msfDir, 'kern.tgz'));

  // A zero run inside the kernel image: a block map must still carry it on FAT.
  const uImage = Buffer.concat([Buffer.from([0x27, 0x05, 0x19, 0x56]), randomBytes(60000), Buffer.alloc(12288), randomBytes(3000)]);
  await writeFile(join(msfDir, 'uImage.initrd-cfboot'), uImage);

  await writeFile(
    join(msfDir, 'msf_init.sh'),
    renderInstaller({ rootfsName: ROOTFS_NAME, cfDevice: opts.cfDevice, manifestId: opts.manifestId ?? 'test-manifest-1', minCfBytes: opts.minCfBytes ?? 64 * 1024 * 1024 }),
    { mode: 0o755 },
  );
  await writeMd5sums(msfDir);
  return { stickDir, msfDir, uImage, ipvsModule, keepalivedConf, debianVersion };
}
