import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCacheDir } from '../debian/mirror.js';
import { assetPath } from '../util/assets.js';
import { ntpFlavour } from '../site/services.js';
import { guestSshdConfig } from './guest-sshd.js';

/**
 * What the vobs stand-in inputs are made of. Everything that changes the built files is in here, so the
 * cache (outside the repository) is keyed by a hash of it: change the recipe, get a fresh build.
 */

export function boardFile(name: string): string {
  return assetPath(join('board/vobs', name));
}

export interface VobsRecipe {
  suite: string;
  arch: string;
  /** Packages mmdebstrap adds to minbase. */
  rootfsPackages: string[];
  /** dpkg path filters applied while building the rootfs (smaller image, faster install). */
  pathExcludes: string[];
  /** The metapackage whose dependency names the kernel image package. */
  kernelMetapackage: string;
  /** Packages the load balancer needs, served from the local mirror with their dependencies. */
  mirrorPackages: string[];
  /** The local mirror's Release file is signed (Release.gpg), as obsbuild image requires. */
  mirrorSigned: boolean;
  /** Module directories (under lib/modules/<release>/kernel) that go into kern.tgz, plus their dependencies. */
  kernTgzDirs: string[];
  /** Modules the stand-in firmware loads, in order (board/vobs/firmware-modules). */
  firmwareModules: string[];
  /** Hashes of the scripts built into the images. */
  scripts: Record<string, string>;
  /** The guest's /etc/ssh/sshd_config (lenny's algorithm offer), installed by rootfs-customize.sh. */
  guestSshdConfig: string;
  /** Which keepalived the local mirror serves: Debian's, or 1.1.15 built from its source (see keepalived115.ts). */
  keepalived: RecipeKeepalived;
}

/** The keepalived in the mirror; 1.1.15 is named by what its .deb is made of, so a new build is a new cache. */
export type RecipeKeepalived = { kind: 'debian' } | { kind: '1.1.15'; sourceSha256: string; packageRecipeHash: string };

/**
 * The stand-in rootfs takes the file name Plat'Home's tarball goes by (the input finder in src/inputs/names.ts
 * accepts only `lenny-powerpc-obs600-*.tar.gz`); inside it is Debian bookworm for amd64.
 */
export const VOBS_ROOTFS_NAME = 'lenny-powerpc-obs600-vobs.tar.gz';

const SCRIPT_FILES = ['firmware-init.sh', 'flashcfg', 'firmware-modules', 'rootfs-customize.sh'];

export function readFirmwareModules(): string[] {
  return readFileSync(boardFile('firmware-modules'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

export function vobsRecipe(keepalived: RecipeKeepalived = { kind: 'debian' }): VobsRecipe {
  const scripts: Record<string, string> = {};
  for (const f of SCRIPT_FILES) scripts[f] = createHash('sha256').update(readFileSync(boardFile(f))).digest('hex');
  return {
    suite: 'bookworm',
    arch: 'amd64',
    // openssh-server: Plat'Home's rootfs ships sshd, and day-two commands reach the guest over SSH.
    // rsyslog: lenny's syslog daemon; without one, keepalived 1.1.15 (which always opens syslog with
    // LOG_CONS) writes every log line to the serial console, in the middle of the console's commands.
    // bookworm's rsyslog has no init script of its own; orphan-sysvinit-scripts supplies it.
    rootfsPackages: ['sysvinit-core', 'ifupdown', 'iproute2', 'kmod', 'procps', 'busybox', 'netbase', 'openssh-server', 'rsyslog',
      'orphan-sysvinit-scripts'],
    pathExcludes: ['/usr/share/man/*', '/usr/share/doc/*', '/usr/share/locale/*', '/usr/share/info/*'],
    kernelMetapackage: 'linux-image-amd64',
    // With 1.1.15 its .deb joins the mirror with its dependencies, and Debian's keepalived stays out.
    // The board's NTP daemon (chrony: bookworm's ntp pulls in ntpsec and python3) is there for sites with ntp:.
    mirrorPackages: [...(keepalived.kind === 'debian' ? ['keepalived', 'ipvsadm'] : ['ipvsadm']), ntpFlavour('vobs').package],
    mirrorSigned: true,
    kernTgzDirs: [
      'net/ipv4', 'net/ipv6', 'net/netfilter', 'net/bridge', 'net/8021q', 'net/core', 'net/sched', 'net/llc',
      'net/802', 'net/packet', 'net/unix', 'fs/ext4', 'fs/jbd2', 'fs/fat', 'fs/nls', 'fs/mbcache.ko',
      'drivers/ata', 'drivers/scsi/sd_mod.ko', 'drivers/usb/storage', 'drivers/usb/host', 'drivers/usb/core',
      'drivers/virtio', 'drivers/block/virtio_blk.ko', 'drivers/net/virtio_net.ko', 'drivers/net/veth.ko',
      'drivers/net/dummy.ko', 'drivers/net/ethernet/intel/e1000', 'crypto', 'lib', 'arch/x86/crypto',
    ],
    firmwareModules: readFirmwareModules(),
    scripts,
    guestSshdConfig: guestSshdConfig(),
    keepalived,
  };
}

export function recipeHash(recipe: VobsRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/** $XDG_CACHE_HOME/obsbuild/vobs/<recipe hash>, or OBSBUILD_VOBS_CACHE when set. */
export function vobsCacheDir(recipe: VobsRecipe, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.OBSBUILD_VOBS_CACHE || join(defaultCacheDir(env), 'vobs');
  return join(root, recipeHash(recipe));
}
