import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KERN_TGZ_NAME, UIMAGE_NAME } from '../inputs/names.js';
import { writeAtomically } from '../util/atomic.js';
import { downloadDebs, metapackageTarget, unpackDeb } from './apt.js';
import { buildFirmwareInitramfs } from './firmware.js';
import { unpackKernel } from './kernel.js';
import { buildKernTgz } from './kerntgz.js';
import { parseRelations } from '../debian/relations.js';
import { UserError } from '../util/errors.js';
import type { KeepalivedChoice } from './keepalived-choice.js';
import { ensureKeepalived115Deb, KEEPALIVED_115_SOURCE_ENV } from './keepalived115.js';
import { KEEPALIVED_115_DEB_VERSION } from './keepalived115-deb.js';
import { buildMirror, mirrorResolves } from './mirror.js';
import { recipeHash, VOBS_ROOTFS_NAME, vobsCacheDir, vobsRecipe, type VobsRecipe } from './recipe.js';
import { buildRootfs } from './rootfs.js';
import { buildUImage } from './uimage.js';

/**
 * The stand-in inputs for the virtual board, built once per machine (per recipe) into the cache:
 *
 *   <cache>/inputs/    the three "Plat'Home" files: rootfs tarball, uImage.initrd-cfboot, kern.tgz
 *   <cache>/firmware/  vmlinuz + firmware.cpio.gz: what the board's flash ROM boots
 *   <cache>/mirror/    a Debian archive holding keepalived (Debian's, or 1.1.15 built from its source: the
 *                      recipe says which), ipvsadm and their dependencies, its Release signed
 *   <cache>/mirror-key/  that signing key; archive-key.gpg is the keyring `obsbuild image --keyring` gets
 *   <cache>/standin.json  what was built and how long each part took (written last: the cache is complete)
 */
export interface StandinInputs {
  dir: string;
  inputsDir: string;
  mirrorDir: string;
  /** the public key the local mirror's Release file is signed with */
  mirrorKeyring: string;
  firmwareKernel: string;
  firmwareInitrd: string;
  info: StandinInfo;
}

export interface StandinInfo {
  recipeHash: string;
  suite: string;
  arch: string;
  kernelRelease: string;
  kernelPackage: string;
  kernelPackageVersion: string;
  kernTgzModules: number;
  mirrorPackages: string[];
  /** The keepalived version the mirror serves (what obsbuild image installs). */
  keepalivedVersion?: string;
  /** Seconds per part. */
  timings: Record<string, number>;
  builtAt: string;
}

export interface StandinOptions {
  recipe?: VobsRecipe;
  /** Rebuild even when the cache is complete. */
  rebuild?: boolean;
  /** Which keepalived the mirror serves (keepalived-choice.ts); Debian's when omitted. It is part of the recipe. */
  keepalived?: KeepalivedChoice;
  log?: (line: string) => void;
}

function paths(dir: string, info: StandinInfo): StandinInputs {
  return {
    dir,
    inputsDir: join(dir, 'inputs'),
    mirrorDir: join(dir, 'mirror'),
    mirrorKeyring: join(dir, 'mirror-key', 'archive-key.gpg'),
    firmwareKernel: join(dir, 'firmware', 'vmlinuz'),
    firmwareInitrd: join(dir, 'firmware', 'firmware.cpio.gz'),
    info,
  };
}

/** The cached stand-in inputs, or undefined when they are not (completely) built. */
export async function cachedStandin(recipe: VobsRecipe = vobsRecipe()): Promise<StandinInputs | undefined> {
  const dir = vobsCacheDir(recipe);
  const infoFile = join(dir, 'standin.json');
  if (!existsSync(infoFile)) return undefined;
  const info = JSON.parse(await readFile(infoFile, 'utf8')) as StandinInfo;
  return paths(dir, info);
}

export async function ensureStandin(opts: StandinOptions = {}): Promise<StandinInputs> {
  const recipe = opts.recipe ?? vobsRecipe(opts.keepalived?.recipe);
  const log = opts.log ?? (() => {});
  if (!opts.rebuild) {
    const cached = await cachedStandin(recipe);
    if (cached) {
      log(`stand-in inputs: cached in ${cached.dir}`);
      return cached;
    }
  }
  const dir = vobsCacheDir(recipe);
  log(`stand-in inputs: building into ${dir} (once per machine)`);
  const info = await writeAtomically(dir, (tmp) => buildInto(tmp, recipe, log, opts.keepalived?.source));
  return paths(dir, info);
}

async function timed<T>(timings: Record<string, number>, name: string, log: (l: string) => void, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log(`stand-in inputs: ${name}...`);
  const r = await work();
  timings[name] = Math.round((performance.now() - t0) / 100) / 10;
  log(`stand-in inputs: ${name} done in ${timings[name]} s`);
  return r;
}

/** keepalived 1.1.15's .deb and the packages its Depends name (the mirror's closure takes them in). */
async function keepalived115ForMirror(source: string | undefined, log: (l: string) => void): Promise<{ deb: string; dependsOn: string[] }> {
  if (!source) throw new UserError(`the stand-in recipe asks for keepalived 1.1.15: name its source in ${KEEPALIVED_115_SOURCE_ENV}`, { code: 'usage' });
  const built = await ensureKeepalived115Deb({ source, log });
  return { deb: built.deb, dependsOn: parseRelations(built.info.depends).map((group) => group[0].name) };
}

async function buildInto(dir: string, recipe: VobsRecipe, log: (l: string) => void, keepalived115Source?: string): Promise<StandinInfo> {
  const timings: Record<string, number> = {};
  const inputs = join(dir, 'inputs');
  const firmware = join(dir, 'firmware');
  const work = join(dir, 'work');
  await mkdir(inputs, { recursive: true });
  await mkdir(firmware, { recursive: true });
  await mkdir(work, { recursive: true });

  // mmdebstrap picks the compression from the extension, so it writes a .tar.gz first.
  await timed(timings, 'rootfs (mmdebstrap)', log, async () => {
    const tarball = join(work, 'rootfs.tar.gz');
    await buildRootfs(recipe, tarball);
    await rename(tarball, join(inputs, VOBS_ROOTFS_NAME));
  });

  const kernelPackage = await metapackageTarget(recipe.kernelMetapackage);
  const kernel = await timed(timings, `kernel (${kernelPackage})`, log, async () => {
    const debs = join(work, 'debs');
    await downloadDebs([kernelPackage, 'busybox-static'], debs);
    const names = await readdir(debs);
    const kdeb = names.find((n) => n.startsWith(`${kernelPackage}_`));
    if (!kdeb) throw new Error(`apt-get download ${kernelPackage}: no .deb`);
    const k = await unpackKernel(join(debs, kdeb), join(work, 'kernel'));
    const bdeb = names.find((n) => n.startsWith('busybox-static_'))!;
    await unpackDeb(join(debs, bdeb), join(work, 'busybox'));
    return k;
  });

  const kernTgzModules = await timed(timings, 'kern.tgz', log, () =>
    buildKernTgz(kernel, recipe.kernTgzDirs, join(inputs, KERN_TGZ_NAME)),
  );

  await timed(timings, 'firmware initramfs', log, async () => {
    await copyFile(kernel.vmlinuz, join(firmware, 'vmlinuz'));
    await buildFirmwareInitramfs({
      kernel,
      busyboxRoot: join(work, 'busybox'),
      modules: recipe.firmwareModules,
      dest: join(firmware, 'firmware.cpio.gz'),
    });
  });

  await timed(timings, 'uImage.initrd-cfboot (mkimage)', log, () =>
    buildUImage({
      vmlinuz: kernel.vmlinuz,
      ramdisk: join(firmware, 'firmware.cpio.gz'),
      release: kernel.release,
      dest: join(inputs, UIMAGE_NAME),
    }),
  );

  const own = recipe.keepalived.kind === '1.1.15' ? await keepalived115ForMirror(keepalived115Source, log) : undefined;
  const mirrorPackages = await timed(timings, 'local mirror (apt-get download)', log, () =>
    buildMirror({
      dir: join(dir, 'mirror'),
      keyDir: join(dir, 'mirror-key'),
      suite: recipe.suite,
      arch: recipe.arch,
      packages: [...recipe.mirrorPackages, ...(own?.dependsOn ?? [])],
      extraDebs: own ? [own.deb] : [],
    }),
  );
  // What obsbuild image will resolve: every dependency in the mirror, and the keepalived the recipe chose.
  const resolved = await mirrorResolves(join(dir, 'mirror'), recipe.suite, recipe.arch, ['keepalived', 'ipvsadm']);
  if (own && resolved.keepalived !== KEEPALIVED_115_DEB_VERSION) {
    throw new UserError(`local mirror: keepalived resolves to ${resolved.keepalived}, not the 1.1.15 package ${KEEPALIVED_115_DEB_VERSION}`, { code: 'tool-failed' });
  }
  log(`stand-in inputs: the local mirror serves keepalived ${resolved.keepalived}`);

  await rm(work, { recursive: true, force: true });
  const info: StandinInfo = {
    recipeHash: recipeHash(recipe),
    suite: recipe.suite,
    arch: recipe.arch,
    kernelRelease: kernel.release,
    kernelPackage,
    kernelPackageVersion: kernel.packageVersion,
    kernTgzModules,
    mirrorPackages,
    keepalivedVersion: resolved.keepalived,
    timings,
    builtAt: new Date().toISOString(),
  };
  await writeFile(join(dir, 'standin.json'), JSON.stringify(info, null, 2) + '\n');
  return info;
}
