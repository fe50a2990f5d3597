import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

/**
 * A chroot holding only Debian's busybox-static applets (the stand-in for the board's stock firmware),
 * optionally e2fsprogs' mke2fs (busybox's mke2fs makes ext2 only) and a fake flashcfg that records its
 * arguments.
 */
export async function makeBusyboxChroot(root: string, opts: { e2fsprogsMke2fs: boolean; flashcfg: boolean; partx?: boolean; sfdisk?: boolean }): Promise<void> {
  for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'mnt/stick', 'etc']) await mkdir(join(root, d), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox' && !a.includes('['));
  for (const a of applets) await symlink('busybox', join(root, 'bin', a));
  await symlink('busybox', join(root, 'bin', '['));
  if (opts.e2fsprogsMke2fs) await copyBinaryWithLibs(root, '/usr/sbin/mke2fs', 'sbin/mke2fs');
  // Kernels built without the DOS partition parser (CONFIG_MSDOS_PARTITION unset, as in some CI VMs)
  // never create the CF's partition node; msf_init.sh then falls back to util-linux partx.
  if (opts.sfdisk) await copyBinaryWithLibs(root, '/usr/sbin/sfdisk', 'sbin/sfdisk');
  if (opts.partx) await copyBinaryWithLibs(root, '/usr/bin/partx', 'sbin/partx');
  if (opts.flashcfg) {
    await writeFile(join(root, 'sbin/flashcfg'), '#!/bin/sh\necho "$*" >>/tmp/flashcfg.args\n', { mode: 0o755 });
  }
  execFileSync('mknod', [join(root, 'dev/null'), 'c', '1', '3']);
  execFileSync('mknod', [join(root, 'dev/zero'), 'c', '1', '5']);
}

async function copyBinaryWithLibs(root: string, binary: string, dest: string): Promise<void> {
  await copyFile(binary, join(root, dest));
  await chmod(join(root, dest), 0o755);
  const ldd = execFileSync('ldd', [binary], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) {
    const lib = m[1];
    await mkdir(join(root, dirname(lib)), { recursive: true });
    await copyFile(lib, join(root, lib));
  }
}

/** Creates /dev/<name> in the chroot for a host block device (same major:minor). */
export function addBlockNode(root: string, hostDev: string): void {
  const st = statSync(hostDev);
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  execFileSync('mknod', [join(root, hostDev), 'b', String(major), String(minor)]);
}

/**
 * Runs msf/msf_init.sh from the stick as the firmware would: the stick partition mounted (read-only) at
 * /mnt/stick inside a private mount namespace, /proc and /sys mounted, PATH = busybox (+ /sbin).
 * The namespace takes every mount with it when the run ends.
 */
export async function runInstallerInChroot(root: string, stickPart: string, env: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const script = [
    'set -e',
    'mount -o ro "$STICK_PART" "$ROOT/mnt/stick"',
    'mount -t proc proc "$ROOT/proc"',
    'mount -t sysfs sysfs "$ROOT/sys"',
    `exec chroot "$ROOT" /bin/env -i PATH=/sbin:/bin ${Object.keys(env).map((k) => `${k}="$${k}"`).join(' ')} /bin/sh /mnt/stick/msf/msf_init.sh`,
  ].join('\n');
  const r = await execa('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], {
    env: { ...env, ROOT: root, STICK_PART: stickPart },
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
