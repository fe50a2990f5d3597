/**
 * Stand-ins for Plat'Home's lenny install files (which cannot be downloaded here), for tests and the
 * benchmark: a lenny-like rootfs tarball, a multi-file uImage made with the real mkimage, and kern.tgz.
 * Output is deterministic (fixed mtimes, owners, order, seeded data).
 *
 *   node dist/scripts/make-standin-inputs.js [DIR] [--size-mb N] [--arch A] [--debian-version V]
 *        [--kernel-version V] [--modules-version V] [--no-ipvs]
 */
import { Command } from 'commander';
import { execa } from 'execa';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { createGzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { KERN_TGZ_NAME, ROOTFS_NAME, UIMAGE_NAME } from '../src/inputs/names.js';
import { STOCK_ROOT_HASH } from '../src/inputs/rootfs.js';
import { writeAtomically } from '../src/util/atomic.js';
import { renderStatus } from '../test/fixtures/inputs/lenny-base.js';

export interface ExtraEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Buffer;
  linkname?: string;
}

export interface StandinOptions {
  /** Pad the rootfs to about this many MB compressed (0: small, a few hundred KB). */
  sizeMb?: number;
  /** dpkg architecture of the rootfs (status file and ELF binaries). Default powerpc. */
  arch?: string;
  /** Architecture of the ELF binaries only, when it should differ from `arch`. */
  elfArch?: string;
  debianVersion?: string;
  kernelVersion?: string;
  modulesVersion?: string;
  /** Whether kern.tgz carries ip_vs.ko. Default true. */
  ipVs?: boolean;
  /** More rootfs entries (test cases for hostile archives). */
  extraRootfsEntries?: ExtraEntry[];
  /** Name of the rootfs tarball. */
  rootfsName?: string;
  /** Seconds since the epoch for every mtime and the uImage time. Default 2010-01-19 00:00 UTC. */
  mtime?: number;
}

export interface StandinFiles {
  dir: string;
  rootfs: string;
  uimage: string;
  kernTgz: string;
}

export const STANDIN_DEFAULTS = {
  arch: 'powerpc',
  debianVersion: '5.0.3',
  kernelVersion: '2.6.29-obs600',
  mtime: 1263859200,
};

/** e_ident + e_machine per Debian architecture: [class bits, endian, e_machine]. */
const ELF_TARGETS: Record<string, [32 | 64, 'big' | 'little', number]> = {
  powerpc: [32, 'big', 20],
  ppc64: [64, 'big', 21],
  amd64: [64, 'little', 62],
  i386: [32, 'little', 3],
  arm64: [64, 'little', 183],
  armel: [32, 'little', 40],
  armhf: [32, 'little', 40],
  mips: [32, 'big', 8],
  mipsel: [32, 'little', 8],
};

/** Deterministic pseudo-random bytes: AES-CTR keystream seeded by a label. */
function prng(label: string, length: number): Buffer {
  const key = createHash('sha256').update(label).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return cipher.update(Buffer.alloc(length));
}

/** An ELF header for `arch` (e_type 2 = executable, 1 = relocatable module) followed by seeded bytes. */
export function fakeElf(arch: string, label: string, bodySize: number, eType = 2): Buffer {
  const target = ELF_TARGETS[arch];
  if (!target) throw new Error(`no ELF target for architecture ${arch}`);
  const [bits, endian, machine] = target;
  const headerSize = bits === 32 ? 52 : 64;
  const h = Buffer.alloc(headerSize);
  h.set([0x7f, 0x45, 0x4c, 0x46, bits === 32 ? 1 : 2, endian === 'big' ? 2 : 1, 1, 0]);
  const u16 = (v: number, at: number) => (endian === 'big' ? h.writeUInt16BE(v, at) : h.writeUInt16LE(v, at));
  const u32 = (v: number, at: number) => (endian === 'big' ? h.writeUInt32BE(v, at) : h.writeUInt32LE(v, at));
  u16(eType, 16);
  u16(machine, 18);
  u32(1, 20); // e_version
  u16(headerSize, bits === 32 ? 40 : 52); // e_ehsize
  return Buffer.concat([h, prng(label, bodySize)]);
}

/** A minimal valid flattened device tree: root node with compatible = "plathome,obs600". */
export function tinyDtb(): Buffer {
  const strings = Buffer.from('compatible\0model\0');
  const prop = (nameoff: number, value: string) => {
    const v = Buffer.from(value + '\0');
    const padded = Buffer.alloc((v.length + 3) & ~3);
    v.copy(padded);
    const head = Buffer.alloc(12);
    head.writeUInt32BE(3, 0); // FDT_PROP
    head.writeUInt32BE(v.length, 4);
    head.writeUInt32BE(nameoff, 8);
    return Buffer.concat([head, padded]);
  };
  const word = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  };
  const struct = Buffer.concat([
    word(1), Buffer.alloc(4), // FDT_BEGIN_NODE, name "" padded
    prop(0, 'plathome,obs600'),
    prop(11, 'obs600'),
    word(2), word(9), // FDT_END_NODE, FDT_END
  ]);
  const headerSize = 40;
  const rsvmap = Buffer.alloc(16); // one empty reservation entry
  const offRsv = headerSize;
  const offStruct = offRsv + rsvmap.length;
  const offStrings = offStruct + struct.length;
  const total = offStrings + strings.length;
  const h = Buffer.alloc(headerSize);
  [0xd00dfeed, total, offStruct, offStrings, offRsv, 17, 16, 0, strings.length, struct.length].forEach((v, i) =>
    h.writeUInt32BE(v, i * 4),
  );
  return Buffer.concat([h, rsvmap, struct, strings]);
}

function entryAdder(pack: tar.Pack, mtime: Date) {
  return (name: string, opts: { type?: ExtraEntry['type'] | 'character-device'; mode?: number; data?: Buffer | string; linkname?: string; uid?: number; gid?: number } = {}) => {
    const type = opts.type ?? 'file';
    const data = opts.data === undefined ? undefined : Buffer.isBuffer(opts.data) ? opts.data : Buffer.from(opts.data);
    const header = {
      name,
      type,
      mode: opts.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      mtime,
      uid: opts.uid ?? 0,
      gid: opts.gid ?? 0,
      uname: 'root',
      gname: opts.gid === 42 ? 'shadow' : 'root',
      linkname: opts.linkname,
      size: type === 'file' ? data?.length ?? 0 : 0,
    };
    return new Promise<void>((resolvePromise, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolvePromise());
      if (type === 'file') pack.entry(header, data ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  };
}

/** Write a tar.gz produced by `fill` atomically; gzip level 9 for small archives, 1 for padded ones. */
async function writeTarGz(file: string, level: number, fill: (add: ReturnType<typeof entryAdder>) => Promise<void>, mtime: Date) {
  await writeAtomically(file, async (tmp) => {
    const pack = tar.pack();
    const done = pipeline(pack, createGzip({ level }), createWriteStream(tmp));
    try {
      await fill(entryAdder(pack, mtime));
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
    await done;
  });
}

const PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/bin/sh
bin:x:2:2:bin:/bin:/bin/sh
sys:x:3:3:sys:/dev:/bin/sh
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/bin/sh
man:x:6:12:man:/var/cache/man:/bin/sh
lp:x:7:7:lp:/var/spool/lpd:/bin/sh
mail:x:8:8:mail:/var/mail:/bin/sh
news:x:9:9:news:/var/spool/news:/bin/sh
uucp:x:10:10:uucp:/var/spool/uucp:/bin/sh
proxy:x:13:13:proxy:/bin:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/sh
backup:x:34:34:backup:/var/backups:/bin/sh
list:x:38:38:Mailing List Manager:/var/list:/bin/sh
irc:x:39:39:ircd:/var/run/ircd:/bin/sh
gnats:x:41:41:Gnats Bug-Reporting System (admin):/var/lib/gnats:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
libuuid:x:100:101::/var/lib/libuuid:/bin/sh
sshd:x:101:65534::/var/run/sshd:/usr/sbin/nologin
`;

function shadowFor(passwd: string): string {
  return passwd
    .trim()
    .split('\n')
    .map((l) => l.split(':')[0])
    .map((u) => `${u}:${u === 'root' ? STOCK_ROOT_HASH : u === 'libuuid' ? '!' : '*'}:14628:0:99999:7:::`)
    .join('\n') + '\n';
}

const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
sudo:x:27:
audio:x:29:
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
gnats:x:41:
shadow:x:42:
utmp:x:43:
video:x:44:
staff:x:50:
games:x:60:
users:x:100:
libuuid:x:101:
nogroup:x:65534:
`;

const INTERFACES = `# Used by ifup(8) and ifdown(8). See the interfaces(5) manpage.
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
	address 192.168.254.254
	netmask 255.255.255.0

auto eth1
iface eth1 inet static
	address 192.168.253.254
	netmask 255.255.255.0
`;

const INITTAB = `id:2:initdefault:
si::sysinit:/etc/init.d/rcS
~~:S:wait:/sbin/sulogin
l0:0:wait:/etc/init.d/rc 0
l1:1:wait:/etc/init.d/rc 1
l2:2:wait:/etc/init.d/rc 2
l3:3:wait:/etc/init.d/rc 3
l4:4:wait:/etc/init.d/rc 4
l5:5:wait:/etc/init.d/rc 5
l6:6:wait:/etc/init.d/rc 6
z6:6:respawn:/sbin/sulogin
ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now
T0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100
`;

const INIT_SCRIPT = (name: string) => `#! /bin/sh
### BEGIN INIT INFO
# Provides:          ${name}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     S
# Default-Stop:
### END INIT INFO
. /lib/lsb/init-functions
exit 0
`;

/** Padding that gzip shrinks to about a third, like a real root filesystem. */
async function addPadding(add: ReturnType<typeof entryAdder>, sizeMb: number) {
  const targetUncompressed = Math.round(sizeMb * 3 * 1024 * 1024);
  const filler = Buffer.from('lenny powerpc obs600 documentation line, repeated as real text files repeat words.\n'.repeat(64));
  let written = 0;
  let index = 0;
  await add('./usr/share/obsbuild-standin/', { type: 'directory' });
  while (written < targetUncompressed) {
    // Sizes between 4 KiB and 1 MiB, from the seeded stream: realistic mix of small and large files.
    const sizeSeed = prng(`size-${index}`, 4).readUInt32BE(0);
    const size = Math.min(targetUncompressed - written, 4096 + (sizeSeed % (1 << 20)));
    const random = prng(`pad-${index}`, Math.ceil(size / 3));
    const body = Buffer.alloc(size);
    for (let at = 0, r = 0; at < size; at += 4096) {
      const take = Math.min(1365, size - at);
      random.copy(body, at, r, r + take);
      r += take;
      if (at + take < size) filler.copy(body, at + take, 0, Math.min(4096 - take, size - at - take));
    }
    await add(`./usr/share/obsbuild-standin/pad-${String(index).padStart(5, '0')}.bin`, { data: body });
    written += size;
    index++;
  }
}

async function writeRootfs(file: string, o: Required<Omit<StandinOptions, 'extraRootfsEntries' | 'rootfsName' | 'elfArch'>> & StandinOptions) {
  const elfArch = o.elfArch ?? o.arch;
  await writeTarGz(
    file,
    o.sizeMb > 0 ? 1 : 9,
    async (add) => {
      await add('./', { type: 'directory' });
      for (const d of ['bin', 'boot', 'dev', 'etc', 'etc/apt', 'etc/init.d', 'etc/network', 'etc/rcS.d', 'etc/rc2.d', 'home',
        'lib', 'lib/lsb', 'lib/modules', 'mnt', 'proc', 'root', 'sbin', 'sys', 'usr', 'usr/bin', 'usr/lib', 'usr/sbin',
        'usr/share', 'usr/share/doc', 'var', 'var/backups', 'var/cache', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info',
        'var/lib/dpkg/updates', 'var/log', 'var/run', 'var/tmp']) {
        await add(`./${d}/`, { type: 'directory', mode: d === 'root' ? 0o700 : 0o755 });
      }
      await add('./tmp/', { type: 'directory', mode: 0o1777 });
      await add('./bin/bash', { data: fakeElf(elfArch, 'bash', 4096), mode: 0o755 });
      await add('./bin/dash', { data: fakeElf(elfArch, 'dash', 2048), mode: 0o755 });
      await add('./bin/sh', { type: 'symlink', linkname: 'dash' });
      await add('./bin/ls', { data: fakeElf(elfArch, 'ls', 2048), mode: 0o755 });
      await add('./sbin/init', { data: fakeElf(elfArch, 'init', 2048), mode: 0o755 });
      await add('./sbin/depmod', { data: fakeElf(elfArch, 'depmod', 2048), mode: 0o755 });
      await add('./lib/ld-2.7.so', { data: fakeElf(elfArch, 'ld', 2048, 3), mode: 0o755 });
      await add('./lib/ld.so.1', { type: 'symlink', linkname: 'ld-2.7.so' });
      await add('./lib/libc-2.7.so', { data: fakeElf(elfArch, 'libc', 8192, 3), mode: 0o755 });
      await add('./lib/libc.so.6', { type: 'symlink', linkname: 'libc-2.7.so' });
      await add('./lib/lsb/init-functions', { data: '# LSB init functions (stand-in)\nlog_daemon_msg () { echo "$@"; }\n' });
      await add('./usr/bin/awk', { type: 'symlink', linkname: '/etc/alternatives/awk' });
      await add('./usr/bin/mawk', { data: fakeElf(elfArch, 'mawk', 2048), mode: 0o755 });
      await add('./etc/alternatives/', { type: 'directory' });
      await add('./etc/alternatives/awk', { type: 'symlink', linkname: '/usr/bin/mawk' });
      await add('./etc/debian_version', { data: `${o.debianVersion}\n` });
      await add('./etc/hostname', { data: 'lenny\n' });
      await add('./etc/hosts', { data: '127.0.0.1\tlocalhost\n127.0.1.1\tlenny\n' });
      await add('./etc/passwd', { data: PASSWD });
      await add('./etc/group', { data: GROUP });
      await add('./etc/shadow', { data: shadowFor(PASSWD), mode: 0o640, gid: 42 });
      await add('./etc/fstab', { data: '# /etc/fstab: static file system information.\nproc /proc proc defaults 0 0\nLABEL=/ / ext3 defaults,noatime 0 1\n' });
      await add('./etc/inittab', { data: INITTAB });
      await add('./etc/network/interfaces', { data: INTERFACES });
      await add('./etc/resolv.conf', { data: 'nameserver 192.168.254.1\n' });
      await add('./etc/sysctl.conf', { data: '# /etc/sysctl.conf - Configuration file for setting system variables\n#net.ipv4.ip_forward=1\n' });
      await add('./etc/apt/sources.list', { data: 'deb http://ftp.jp.debian.org/debian/ lenny main\n' });
      for (const s of ['networking', 'procps', 'hostname.sh', 'ssh']) {
        await add(`./etc/init.d/${s}`, { data: INIT_SCRIPT(s), mode: 0o755 });
      }
      await add('./etc/rcS.d/S40networking', { type: 'symlink', linkname: '../init.d/networking' });
      await add('./etc/rcS.d/S30procps', { type: 'symlink', linkname: '../init.d/procps' });
      await add('./etc/rc2.d/S16ssh', { type: 'symlink', linkname: '../init.d/ssh' });
      await add('./var/lib/dpkg/status', { data: renderStatus(o.arch) });
      await add('./var/lib/dpkg/available', { data: '' });
      await add('./var/lib/dpkg/info/dash.list', { data: '/.\n/bin\n/bin/dash\n/usr\n/usr/share\n/usr/share/doc\n/usr/share/doc/dash\n' });
      await add('./var/lib/dpkg/info/base-files.list', { data: '/.\n/etc\n/etc/debian_version\n/etc/issue\n' });
      await add('./etc/issue', { data: 'Debian GNU/Linux 5.0 \\n \\l\n\n' });
      for (const e of o.extraRootfsEntries ?? []) {
        await add(e.name, { type: e.type, data: e.content, linkname: e.linkname });
      }
      if (o.sizeMb > 0) await addPadding(add, o.sizeMb);
    },
    new Date(o.mtime * 1000),
  );
}

const IPVS_MODULES = ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_wlc', 'ip_vs_lblc', 'ip_vs_lblcr', 'ip_vs_dh', 'ip_vs_sh', 'ip_vs_sed', 'ip_vs_nq', 'ip_vs_ftp'];
const OTHER_MODULES = ['fs/ext3/ext3', 'fs/jbd/jbd', 'fs/mbcache', 'drivers/usb/storage/usb-storage', 'drivers/scsi/sg',
  'net/ipv4/netfilter/ip_tables', 'net/ipv4/netfilter/iptable_filter', 'net/ipv4/netfilter/iptable_nat', 'net/netfilter/nf_conntrack'];

async function writeKernTgz(file: string, modulesVersion: string, ipVs: boolean, arch: string, mtime: number) {
  const base = `lib/modules/${modulesVersion}`;
  const modules = [
    ...OTHER_MODULES.map((m) => `kernel/${m}.ko`),
    ...(ipVs ? IPVS_MODULES.map((m) => `kernel/net/netfilter/ipvs/${m}.ko`) : []),
  ].sort();
  const moduleBody = (path: string) =>
    Buffer.concat([fakeElf(arch, path, 1024, 1), Buffer.from(`\0vermagic=${modulesVersion} mod_unload 4xx \0`)]);
  const dep = modules
    .map((m) => {
      const deps = /ipvs\/ip_vs_/.test(m) ? [`/${base}/kernel/net/netfilter/ipvs/ip_vs.ko`] : /ext3/.test(m) ? [`/${base}/kernel/fs/jbd/jbd.ko`, `/${base}/kernel/fs/mbcache.ko`] : [];
      return `/${base}/${m}: ${deps.join(' ')}`.trimEnd() + '\n';
    })
    .join('');
  await writeTarGz(
    file,
    9,
    async (add) => {
      await add('lib/', { type: 'directory' });
      await add('lib/modules/', { type: 'directory' });
      await add(`${base}/`, { type: 'directory' });
      await add(`${base}/build`, { type: 'symlink', linkname: `/usr/src/linux-${modulesVersion}` });
      const dirs = new Set<string>();
      for (const m of modules) {
        const parts = m.split('/');
        for (let i = 1; i < parts.length; i++) {
          const d = parts.slice(0, i).join('/');
          if (!dirs.has(d)) {
            dirs.add(d);
            await add(`${base}/${d}/`, { type: 'directory' });
          }
        }
        await add(`${base}/${m}`, { data: moduleBody(m) });
      }
      await add(`${base}/modules.dep`, { data: dep });
    },
    new Date(mtime * 1000),
  );
}

async function writeUImage(file: string, kernelVersion: string, mtime: number) {
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-uimage-'));
  try {
    // A fake vmlinux.bin: seeded bytes with the kernel banner well inside, past the first chunk.
    const banner = `Linux version ${kernelVersion} (root@obs600build) (gcc version 4.3.2 (Debian 4.3.2-1.1) ) #1 Tue Jan 19 10:00:00 JST 2010\n`;
    const vmlinux = Buffer.concat([prng('vmlinux-head', 300_000), Buffer.from(`\0${banner}\0`), prng('vmlinux-tail', 200_000)]);
    const ramdisk = Buffer.concat([Buffer.from('ramdisk stand-in (ext2 image in the real file)\n'), prng('ramdisk', 64_000)]);
    // gzip with no name and mtime 0 (zlib's default header), like `gzip -n`.
    await writeFile(join(work, 'vmlinux.bin.gz'), gzipSync(vmlinux, { level: 9 }));
    await writeFile(join(work, 'ramdisk.gz'), gzipSync(ramdisk, { level: 9 }));
    await writeFile(join(work, 'obs600.dtb'), tinyDtb());
    const out = join(work, 'uImage');
    await execa(
      'mkimage',
      ['-n', `OBS600 ${kernelVersion}`, '-A', 'ppc', '-O', 'linux', '-T', 'multi', '-C', 'gzip', '-a', '0', '-e', '0',
        '-d', ['vmlinux.bin.gz', 'ramdisk.gz', 'obs600.dtb'].map((n) => join(work, n)).join(':'), out],
      { env: { SOURCE_DATE_EPOCH: String(mtime) } },
    );
    const image = await readFile(out);
    await writeAtomically(file, (tmp) => writeFile(tmp, image));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function makeStandinInputs(dir: string, opts: StandinOptions = {}): Promise<StandinFiles> {
  const o = {
    sizeMb: opts.sizeMb ?? 0,
    arch: opts.arch ?? STANDIN_DEFAULTS.arch,
    debianVersion: opts.debianVersion ?? STANDIN_DEFAULTS.debianVersion,
    kernelVersion: opts.kernelVersion ?? STANDIN_DEFAULTS.kernelVersion,
    modulesVersion: opts.modulesVersion ?? opts.kernelVersion ?? STANDIN_DEFAULTS.kernelVersion,
    ipVs: opts.ipVs ?? true,
    mtime: opts.mtime ?? STANDIN_DEFAULTS.mtime,
    extraRootfsEntries: opts.extraRootfsEntries,
    elfArch: opts.elfArch,
  };
  const abs = resolve(dir);
  const files: StandinFiles = {
    dir: abs,
    rootfs: join(abs, opts.rootfsName ?? ROOTFS_NAME),
    uimage: join(abs, UIMAGE_NAME),
    kernTgz: join(abs, KERN_TGZ_NAME),
  };
  await Promise.all([
    writeRootfs(files.rootfs, o),
    writeUImage(files.uimage, o.kernelVersion, o.mtime),
    writeKernTgz(files.kernTgz, o.modulesVersion, o.ipVs, opts.elfArch ?? o.arch, o.mtime),
  ]);
  return files;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('make-standin-inputs')
    .description("Write stand-ins for Plat'Home's lenny install files (rootfs tarball, uImage.initrd-cfboot, kern.tgz).")
    .argument('[dir]', 'where to write them', 'inputs')
    .option('--size-mb <n>', 'pad the rootfs to about N MB compressed (about 3N uncompressed)', Number, 0)
    .option('--arch <arch>', 'dpkg architecture of the rootfs and its binaries', STANDIN_DEFAULTS.arch)
    .option('--debian-version <v>', '/etc/debian_version', STANDIN_DEFAULTS.debianVersion)
    .option('--kernel-version <v>', "the kernel's release (uImage)", STANDIN_DEFAULTS.kernelVersion)
    .option('--modules-version <v>', "kern.tgz's lib/modules/<v> (default: the kernel's)")
    .option('--no-ipvs', 'leave ip_vs.ko out of kern.tgz')
    .parse(argv);
  const o = program.opts<{ sizeMb: number; arch: string; debianVersion: string; kernelVersion: string; modulesVersion?: string; ipvs: boolean }>();
  const started = Date.now();
  const files = await makeStandinInputs(program.args[0] ?? 'inputs', {
    sizeMb: o.sizeMb, arch: o.arch, debianVersion: o.debianVersion, kernelVersion: o.kernelVersion,
    modulesVersion: o.modulesVersion, ipVs: o.ipvs,
  });
  for (const f of [files.rootfs, files.uimage, files.kernTgz]) {
    process.stdout.write(`${f}  ${(await stat(f)).size} bytes\n`);
  }
  process.stdout.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv).catch((err) => {
    process.stderr.write(`make-standin-inputs: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
