import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * The files Plat'Home publishes for installing Debian lenny on the OpenBlockS 600 (the guide's table 1),
 * and where to find them in the inputs directory.
 */

/** The rootfs tarball named in the guide. */
export const ROOTFS_NAME = 'lenny-powerpc-obs600-20100119-00.tar.gz';
/** Other releases of the same tarball are accepted too (the newest name wins). */
export const ROOTFS_PATTERN = /^lenny-powerpc-obs600-.+\.tar\.gz$/;
export const UIMAGE_NAME = 'uImage.initrd-cfboot';
export const KERN_TGZ_NAME = 'kern.tgz';
/** The guide's fourth file; obsbuild generates its own, so it is not an input. */
export const MSF_INIT_NAME = 'msf_init.sh';

/** Where Plat'Home publishes them: the guide's reference "他OSのインストール方法(OBS600)". */
export const DOWNLOAD_PAGE = 'http://openblocks.plathome.co.jp/support/documentation/other_os.html';
export const DEFAULT_INPUTS_DIR = 'inputs';

export interface InputFiles {
  /** Absolute path of the inputs directory. */
  dir: string;
  rootfs: string;
  uimage: string;
  kernTgz: string;
  /** Set when the rootfs was chosen among other names than the guide's. */
  rootfsNote?: string;
}

const DESCRIPTIONS: Record<string, string> = {
  [ROOTFS_NAME]: 'the OS image (Debian lenny)',
  [UIMAGE_NAME]: 'the kernel',
  [KERN_TGZ_NAME]: 'the kernel modules',
};

/** Find Plat'Home's three files by name; a missing one is a UserError that says what to do. */
export async function findInputs(dir: string = DEFAULT_INPUTS_DIR): Promise<InputFiles> {
  const abs = resolve(dir);
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UserError(`${abs}: cannot read the inputs directory (${code})`, { code: 'input-invalid', cause: err });
    names = [];
  }
  const missing: string[] = [];
  let rootfs: string | undefined;
  let rootfsNote: string | undefined;
  if (names.includes(ROOTFS_NAME)) {
    rootfs = ROOTFS_NAME;
  } else {
    const others = names.filter((n) => ROOTFS_PATTERN.test(n)).sort();
    if (others.length > 0) {
      rootfs = others[others.length - 1];
      rootfsNote =
        others.length > 1
          ? `using ${rootfs} (the newest of ${others.join(', ')}); the guide names ${ROOTFS_NAME}`
          : `using ${rootfs}; the guide names ${ROOTFS_NAME}`;
    } else {
      missing.push(ROOTFS_NAME);
    }
  }
  for (const name of [UIMAGE_NAME, KERN_TGZ_NAME]) if (!names.includes(name)) missing.push(name);
  if (missing.length > 0) throw missingInputs(abs, missing);
  return {
    dir: abs,
    rootfs: join(abs, rootfs!),
    uimage: join(abs, UIMAGE_NAME),
    kernTgz: join(abs, KERN_TGZ_NAME),
    rootfsNote,
  };
}

function missingInputs(dir: string, missing: string[]): UserError {
  const what = missing.map((n) => `${n} (${DESCRIPTIONS[n]})`).join(', ');
  const them = missing.length === 1 ? 'it' : 'them';
  return new UserError(
    `${join(dir, missing[0])}: missing ${what}: download ${them} from Plat'Home's OBS600 page ${DOWNLOAD_PAGE} ` +
      `and put ${them} in ${dir}/ (or point --inputs at the folder that holds ${them})`,
    { code: 'input-invalid' },
  );
}
