import { basename } from 'node:path';
import { UserError } from '../util/errors.js';
import { findInputs, type InputFiles } from './names.js';
import { inspectKernTgz, matchModulesToKernel, type KernTgzReport } from './kerntgz.js';
import { inspectRootfs, type RootfsReport } from './rootfs.js';
import { inspectUImage, type UImageReport } from './uimage.js';

/** Every check on Plat'Home's three files, run before each build and by `obsbuild inspect`. */

export interface InputFileInfo {
  path: string;
  name: string;
  size: number;
  sha256: string;
}

export interface InputsReport {
  dir: string;
  files: { rootfs: InputFileInfo; uimage: InputFileInfo; kernTgz: InputFileInfo };
  debianVersion?: string;
  suite?: string;
  /** dpkg architecture of the rootfs. */
  arch?: string;
  kernelVersion: string;
  modulesVersion: string;
  ipVs: boolean;
  rootfs: RootfsReport;
  uimage: UImageReport;
  kernTgz: KernTgzReport;
  warnings: string[];
}

export interface InspectOptions {
  /** Debian architecture the packages are for (default powerpc); null skips architecture checks. */
  expectArch?: string | null;
  /** Debian suite the packages are for (default lenny); null skips the check. */
  expectSuite?: string | null;
  /** Parts of the board's multi-file uImage (default 3, the OBS600's kernel, ramdisk and device tree). */
  expectUImageParts?: number;
  /** The site's time zone: the rootfs pass finds its file (RootfsReport.zoneinfo). */
  zone?: string | null;
  /** Bytes read so far over all three files, and their total size. */
  onProgress?: (done: number, total: number) => void;
}

/** U-Boot's architecture code for a Debian architecture (image.h IH_ARCH_*). */
const UBOOT_ARCH: Record<string, number> = {
  powerpc: 7, ppc64: 7, amd64: 24, i386: 3, arm64: 22, armel: 2, armhf: 2, mips: 5, mipsel: 5, riscv64: 26,
};

function info(path: string, r: { size: number; sha256: string }): InputFileInfo {
  return { path, name: basename(path), size: r.size, sha256: r.sha256 };
}

export async function inspectInputs(dir?: string, opts: InspectOptions = {}): Promise<InputsReport> {
  const found: InputFiles = await findInputs(dir);
  const expectArch = opts.expectArch === undefined ? 'powerpc' : opts.expectArch;

  // Aggregate progress over the three files read side by side.
  const done: Record<string, number> = {};
  const totals: Record<string, number> = {};
  const progress = (key: string) => (d: number, t: number) => {
    done[key] = d;
    totals[key] = t;
    if (!opts.onProgress) return;
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    opts.onProgress(sum(done), sum(totals));
  };

  // The three reads are independent: run them together, report the first problem in a fixed order.
  const settled = await Promise.allSettled([
    inspectRootfs(found.rootfs, { expectArch, expectSuite: opts.expectSuite, zone: opts.zone, onProgress: progress('rootfs') }),
    inspectUImage(found.uimage, {
      expectArch: expectArch === null ? null : UBOOT_ARCH[expectArch] ?? null,
      expectParts: opts.expectUImageParts,
      onProgress: progress('uimage'),
    }),
    inspectKernTgz(found.kernTgz, { onProgress: progress('kern') }),
  ]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  const [rootfs, uimage, kernAny] = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
    RootfsReport,
    UImageReport,
    KernTgzReport,
  ];
  if (!uimage.kernelVersion) {
    throw new UserError(
      `${basename(found.uimage)}: cannot tell the kernel version (no "Linux version" banner in the kernel, none in the image name "${uimage.header.name}")`,
      { code: 'input-invalid' },
    );
  }
  const kernTgz = matchModulesToKernel(kernAny, uimage.kernelVersion);

  const warnings = [...rootfs.warnings, ...uimage.warnings, ...kernTgz.warnings];
  if (found.rootfsNote) warnings.unshift(`${basename(found.rootfs)}: ${found.rootfsNote}`);
  if (!kernTgz.ipVsPath) {
    warnings.push(`${basename(found.kernTgz)}: no ip_vs.ko for ${kernTgz.modulesVersion}: this kernel cannot do LVS load balancing`);
  }
  return {
    dir: found.dir,
    files: {
      rootfs: info(found.rootfs, rootfs),
      uimage: info(found.uimage, uimage),
      kernTgz: info(found.kernTgz, kernTgz),
    },
    debianVersion: rootfs.debianVersion,
    suite: rootfs.suite,
    arch: rootfs.architecture,
    kernelVersion: uimage.kernelVersion,
    modulesVersion: kernTgz.modulesVersion,
    ipVs: kernTgz.ipVsPath !== undefined,
    rootfs,
    uimage,
    kernTgz,
    warnings,
  };
}
