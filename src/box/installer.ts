import { UserError } from '../util/errors.js';
import { INSTALL_COMPLETE_PATH, OVERLAY_NAME } from '../contracts/box-paths.js';
import { INSTALL_STEP_COUNT, INSTALL_TAG } from '../contracts/markers.js';
import { renderTemplate } from './template.js';

/** Names of the files msf_init.sh installs, as they sit in msf/ next to it. */
export interface InstallerFiles {
  /** the overlay tarball (gzip); default obsbuild-overlay.tgz */
  overlay?: string;
  /** modules tarball (gzip), unpacked at the CF root; default kern.tgz */
  kernTgz?: string;
  /** CF boot uImage, copied to the CF root; default uImage.initrd-cfboot */
  uImage?: string;
}

export interface InstallerOptions {
  /** the CF card as the firmware sees it (site file install.cf_device); default /dev/sda */
  cfDevice?: string;
  /** Plat'Home's rootfs tarball name in msf/ (.tar.gz/.tgz, .tar.bz2 or .tar.xz) */
  rootfsName: string;
  files?: InstallerFiles;
  /** printed by the installer and written into the completion marker */
  manifestId?: string;
  /** the installer refuses a smaller CF card; default DEFAULT_MIN_CF_BYTES */
  minCfBytes?: number;
}

export const DEFAULT_CF_DEVICE = '/dev/sda';
export const DEFAULT_MIN_CF_BYTES = 512 * 1024 * 1024;
export const INSTALLER_NAME = 'msf_init.sh';

const MIB = 1024 * 1024;

/**
 * A CF size floor from the stick's payload: compressed tarballs unpack to about 3-4 times their size,
 * plus the kernel image and room to work. Use it when the real unpacked size is not known.
 */
export function estimateMinCfBytes(sizes: { rootfs: number; overlay: number; kernTgz: number; uImage: number }): number {
  const raw = 4 * (sizes.rootfs + sizes.overlay + sizes.kernTgz) + sizes.uImage + 64 * MIB;
  return Math.ceil(raw / MIB) * MIB;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const SAFE_DEVICE = /^\/dev\/[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$/;

function checkName(what: string, name: string): string {
  if (!SAFE_NAME.test(name)) throw new UserError(`${what} "${name}": a stick file name must be letters, digits, . _ + - only`, { code: 'input-invalid' });
  return name;
}

/** Which decompressor the installer pipes the rootfs tarball through (all busybox applets). */
export function rootfsDecompressor(name: string): 'gzip' | 'bzip2' | 'xz' {
  if (/\.(tar\.gz|tgz)$/.test(name)) return 'gzip';
  if (/\.(tar\.bz2|tbz2?)$/.test(name)) return 'bzip2';
  if (/\.(tar\.xz|txz)$/.test(name)) return 'xz';
  throw new UserError(`rootfs tarball "${name}": expected .tar.gz, .tgz, .tar.bz2 or .tar.xz`, { code: 'input-invalid' });
}

/** The generated msf_init.sh (POSIX sh for the firmware's busybox), from msf_init.sh.tmpl beside this module. */
export function renderInstaller(opts: InstallerOptions): string {
  const cfDevice = opts.cfDevice ?? DEFAULT_CF_DEVICE;
  if (!SAFE_DEVICE.test(cfDevice)) throw new UserError(`install.cf_device "${cfDevice}": expected a device path such as /dev/sda`, { code: 'site-invalid' });
  const rootfs = checkName('rootfs tarball', opts.rootfsName);
  const decompress = rootfsDecompressor(rootfs);
  const overlay = checkName('overlay', opts.files?.overlay ?? OVERLAY_NAME);
  const kernTgz = checkName('kern.tgz', opts.files?.kernTgz ?? 'kern.tgz');
  const uImage = checkName('uImage', opts.files?.uImage ?? 'uImage.initrd-cfboot');
  const manifestId = opts.manifestId ?? 'unknown';
  if (!/^[A-Za-z0-9._:+-]{1,128}$/.test(manifestId)) throw new UserError(`manifest id "${manifestId}": letters, digits and . _ : + - only`, { code: 'input-invalid' });
  const minBytes = opts.minCfBytes ?? DEFAULT_MIN_CF_BYTES;
  if (!Number.isSafeInteger(minBytes) || minBytes < 0) throw new UserError(`minimum CF size ${minBytes}: not a byte count`, { code: 'input-invalid' });

  const values: Record<string, string> = {
    CF_DEVICE: shellQuote(cfDevice),
    CF_DEVICE_TEXT: cfDevice,
    ROOTFS: shellQuote(rootfs),
    ROOTFS_DECOMPRESS: decompress,
    OVERLAY: shellQuote(overlay),
    KERN_TGZ: shellQuote(kernTgz),
    UIMAGE: shellQuote(uImage),
    MANIFEST_ID: manifestId,
    MIN_CF_MIB: String(Math.ceil(minBytes / MIB)),
    INSTALL_COMPLETE_PATH,
    TAG: INSTALL_TAG,
    STEPS: String(INSTALL_STEP_COUNT),
  };
  return renderTemplate('msf_init.sh.tmpl', values);
}
