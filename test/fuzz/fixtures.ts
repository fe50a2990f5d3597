/**
 * The real files the fuzz run corrupts, built once per run into one folder and byte-identical on every
 * run (fixed mtimes, SOURCE_DATE_EPOCH for mkimage and dpkg-deb), so a (parser, seed) pair replays the
 * same bytes: stand-in inputs (multi-file uImage from mkimage, kern.tgz, rootfs), small uImages from
 * mkimage, .debs from `dpkg-deb --build`, a Packages index from dpkg-scanpackages, Release files in the
 * archive's format, control files, and the site files of test/fixtures/sites.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { makeStandinInputs, tinyDtb } from '../fixtures/inputs/make-standin-inputs.js';
import { makeDeb, type FakePackage } from '../fixtures/debs/make-deb.js';

export const EPOCH = 1263859200; // 2010-01-19, as the stand-in inputs

/** The repository root, from dist/test/fuzz/ (compiled) or test/fuzz/ (source). */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return basename(dirname(dirname(here))) === 'dist' ? join(here, '../../..') : join(here, '../..');
}

/** Tools the fixtures need; a missing one is a reason to skip, not a failure. */
export const TOOLS = ['mkimage', 'dpkg-deb', 'dpkg-scanpackages'];

export function missingTool(): string | undefined {
  for (const tool of TOOLS) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    } catch {
      return tool;
    }
  }
  return undefined;
}

/** A kernel image with the banner inspect reads the release from, gzip-compressed as U-Boot expects. */
function fakeKernel(): Buffer {
  const banner = 'Linux version 2.6.29-obs600 (root@obs600build) (gcc version 4.3.2 (Debian 4.3.2-1.1) ) #1 Tue Jan 19 10:00:00 JST 2010\n';
  const body = Buffer.alloc(4096);
  for (let i = 0; i < body.length; i++) body[i] = (i * 131 + 7) & 0xff;
  return gzipSync(Buffer.concat([body, Buffer.from(banner), body]), { level: 9 });
}

const DEB_BASE: FakePackage = {
  name: 'keepalived',
  version: '1:1.1.15-1',
  depends: 'libc6 (>= 2.7-1), libpopt0 (>= 1.14), ipvsadm',
  conffiles: ['/etc/keepalived/keepalived.conf'],
  scripts: { postinst: '#!/bin/sh\nset -e\nexit 0\n' },
  files: [
    { path: '/etc/keepalived', dir: true },
    { path: '/etc/keepalived/keepalived.conf', content: 'global_defs {\n  router_id LVS\n}\n' },
    { path: '/usr/sbin/keepalived', content: 'ELF'.padEnd(3000, 'x'), mode: 0o755 },
    { path: '/usr/sbin/genhash', content: 'ELF'.padEnd(700, 'y'), mode: 0o755 },
    { path: '/usr/bin/genhash', symlink: '../sbin/genhash' },
    { path: '/usr/sbin/keepalived-hard', hardlinkTo: 'usr/sbin/keepalived' },
  ],
};

/** A real lenny control file (keepalived 1.1.15-1, powerpc), as the archive's .deb carries it. */
const LENNY_CONTROL = `Package: keepalived
Version: 1:1.1.15-1
Architecture: powerpc
Maintainer: Alexander Wirt <formorer@debian.org>
Installed-Size: 428
Depends: libc6 (>= 2.7-1), libpopt0 (>= 1.14), libssl0.9.8 (>= 0.9.8f-5), ipvsadm
Section: admin
Priority: optional
Homepage: http://keepalived.org
Description: Failover and monitoring daemon for LVS clusters
 keepalived is used for monitoring real servers within a Linux
 Virtual Server (LVS) cluster.  keepalived can be configured to
 remove real servers from the cluster pool if it stops responding,
 as well as send a notification email to make the admin aware of
 the service failure.
 .
 In addition, keepalived implements an independent Virtual Router
 Redundancy Protocol (VRRPv2; see rfc2338 for additional info)
 framework for director failover.
`;

function digest(data: Buffer, algo: string): string {
  return createHash(algo).update(data).digest('hex');
}

/** A Release file in the layout lenny's archive used (MD5Sum, SHA1 and SHA256 blocks). */
function lennyRelease(files: [string, Buffer][]): string {
  const block = (algo: string) => files.map(([p, d]) => ` ${digest(d, algo)} ${String(d.length).padStart(16)} ${p}\n`).join('');
  return (
    'Origin: Debian\nLabel: Debian\nSuite: oldstable\nVersion: 5.0.10\nCodename: lenny\n' +
    'Date: Sat, 10 Mar 2012 11:49:43 UTC\nArchitectures: alpha amd64 arm armel hppa i386 ia64 mips mipsel powerpc s390 sparc\n' +
    'Components: main contrib non-free\nDescription: Debian 5.0.10 Released 10 March 2012\n' +
    `MD5Sum:\n${block('md5')}SHA1:\n${block('sha1')}SHA256:\n${block('sha256')}`
  );
}

/** A Release in today's layout: SHA256 only, Valid-Until, Acquire-By-Hash. */
function modernRelease(files: [string, Buffer][]): string {
  return (
    'Origin: Debian\nLabel: Debian\nSuite: lenny\nCodename: lenny\nDate: Sat, 10 Mar 2012 11:49:43 UTC\n' +
    'Valid-Until: Sat, 17 Mar 2012 11:49:43 UTC\nAcquire-By-Hash: yes\nArchitectures: powerpc\nComponents: main\n' +
    `SHA256:\n${files.map(([p, d]) => ` ${digest(d, 'sha256')} ${d.length} ${p}\n`).join('')}`
  );
}

export interface FixtureSet {
  dir: string;
  /** sha256 over every fixture, printed with failures: the same digest means the same bytes. */
  digest: string;
}

/** Build every fixture into `dir` (which must exist and be empty). */
export async function buildFixtures(dir: string): Promise<FixtureSet> {
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) };
  const previous = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = String(EPOCH); // makeDeb's dpkg-deb inherits it
  try {
    // uImage: the stand-in multi-file image, and two small ones from mkimage.
    const inputs = join(dir, 'inputs');
    mkdirSync(inputs);
    await makeStandinInputs(inputs);
    const uimage = join(dir, 'uimage');
    mkdirSync(uimage);
    copyFileSync(join(inputs, 'uImage.initrd-cfboot'), join(uimage, 'standin.uImage'));
    const kernel = join(dir, 'vmlinux.gz');
    writeFileSync(kernel, fakeKernel());
    writeFileSync(join(dir, 'ramdisk.gz'), gzipSync(Buffer.from('ramdisk '.repeat(64)), { level: 9 }));
    writeFileSync(join(dir, 'obs600.dtb'), tinyDtb());
    const mk = (args: string[]) => execFileSync('mkimage', args, { env, stdio: 'pipe' });
    mk(['-A', 'ppc', '-O', 'linux', '-T', 'multi', '-C', 'gzip', '-a', '0', '-e', '0', '-n', 'OBS600 2.6.29-obs600',
      '-d', `${kernel}:${join(dir, 'ramdisk.gz')}:${join(dir, 'obs600.dtb')}`, join(uimage, 'multi.uImage')]);
    mk(['-A', 'ppc', '-O', 'linux', '-T', 'kernel', '-C', 'gzip', '-a', '0', '-e', '0', '-n', 'Linux-2.6.29', '-d', kernel,
      join(uimage, 'kernel.uImage')]);

    // tar: the stand-in kern.tgz and rootfs tarball.
    const tarDir = join(dir, 'tar');
    mkdirSync(tarDir);
    for (const name of readdirSync(inputs)) if (name.endsWith('gz')) copyFileSync(join(inputs, name), join(tarDir, name));

    // .deb: dpkg-deb --build with gzip, none and xz members.
    const debs = join(dir, 'debs');
    mkdirSync(debs);
    makeDeb(debs, { ...DEB_BASE, compression: 'gzip' });
    makeDeb(debs, { ...DEB_BASE, name: 'ipvsadm', version: '1:1.24-2.1', depends: 'libc6 (>= 2.7-1)', compression: 'none' });
    makeDeb(debs, { ...DEB_BASE, name: 'libpopt0', version: '1.14-4', depends: undefined, compression: 'xz' });

    // Packages (dpkg-scanpackages over those debs), and Release files for a mirror holding it.
    const packages = execFileSync('dpkg-scanpackages', ['-m', '.', '/dev/null'], { cwd: debs, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const indexDir = join(dir, 'packages');
    mkdirSync(indexDir);
    writeFileSync(join(indexDir, 'Packages'), packages);
    writeFileSync(join(indexDir, 'Packages.gz'), gzipSync(packages, { level: 9 }));
    const mirrorFiles: [string, Buffer][] = [
      ['main/binary-powerpc/Packages', packages],
      ['main/binary-powerpc/Packages.gz', gzipSync(packages, { level: 9 })],
      ['main/binary-powerpc/Release', Buffer.from('Archive: oldstable\nVersion: 5.0.10\nComponent: main\nOrigin: Debian\nLabel: Debian\nArchitecture: powerpc\n')],
    ];
    const release = join(dir, 'release');
    mkdirSync(release);
    writeFileSync(join(release, 'lenny.Release'), lennyRelease(mirrorFiles));
    writeFileSync(join(release, 'modern.Release'), modernRelease(mirrorFiles));
    const mirror = join(dir, 'mirror/dists/lenny/main/binary-powerpc');
    mkdirSync(mirror, { recursive: true });
    for (const [p, d] of mirrorFiles) writeFileSync(join(dir, 'mirror/dists/lenny', p), d);

    // control: the control file dpkg-deb packed above, and a real lenny one.
    const control = join(dir, 'control');
    mkdirSync(control);
    const built = readdirSync(debs).find((n) => n.startsWith('keepalived_'))!;
    writeFileSync(join(control, 'made.control'), execFileSync('dpkg-deb', ['--field', join(debs, built)], { stdio: 'pipe' }));
    writeFileSync(join(control, 'lenny.control'), LENNY_CONTROL);

    // site: every site file of the test suite.
    const sites = join(dir, 'sites');
    mkdirSync(sites);
    const src = join(repoRoot(), 'test/fixtures/sites');
    for (const name of readdirSync(src)) if (name.endsWith('.yaml')) copyFileSync(join(src, name), join(sites, name));
    for (const name of readdirSync(join(src, 'lint'))) if (name.endsWith('.yaml')) copyFileSync(join(src, 'lint', name), join(sites, `lint-${name}`));
  } finally {
    if (previous === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = previous;
  }
  return { dir, digest: digestTree(dir) };
}

function digestTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, name.name);
      if (name.isDirectory()) walk(p);
      else hash.update(`${p.slice(dir.length)}\0`).update(readFileSync(p));
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 16);
}
