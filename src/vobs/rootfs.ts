import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boardFile, type VobsRecipe } from './recipe.js';
import { shQuote } from '../remote/sh-quote.js';
import { runTool } from '../util/run-tool.js';

/**
 * The stand-in rootfs tarball: Debian's minbase made by mmdebstrap from this machine's apt sources, shaped
 * like Plat'Home's (board/vobs/rootfs-customize.sh). Written to `dest` (a .tar.gz: mmdebstrap compresses
 * by the extension).
 */
export async function buildRootfs(recipe: VobsRecipe, dest: string, onLine?: (l: string) => void): Promise<void> {
  // The hook copies the guest's sshd_config in from here (its text is part of the recipe).
  const files = await mkdtemp(join(tmpdir(), 'obsbuild-vobs-rootfs-'));
  try {
    const sshdConfig = join(files, 'sshd_config');
    await writeFile(sshdConfig, recipe.guestSshdConfig);
    await runMmdebstrap(recipe, dest, sshdConfig, onLine);
  } finally {
    await rm(files, { recursive: true, force: true });
  }
}

async function runMmdebstrap(recipe: VobsRecipe, dest: string, sshdConfig: string, onLine?: (l: string) => void): Promise<void> {
  const args = [
    '--variant=minbase',
    // As root: plain chroot; as a user: mmdebstrap's user-namespace mode.
    process.getuid?.() === 0 ? '--mode=root' : '--mode=unshare',
    `--architectures=${recipe.arch}`,
    `--include=${recipe.rootfsPackages.join(',')}`,
    ...recipe.pathExcludes.map((p) => `--dpkgopt=path-exclude=${p}`),
    // Keep the copyright files: the licences travel with the binaries.
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    `--customize-hook=sh ${shQuote(boardFile('rootfs-customize.sh'))} "$1" ${shQuote(sshdConfig)}`,
    recipe.suite,
    dest,
  ];
  await runTool('mmdebstrap', args, { what: 'building the stand-in rootfs', onLine });
}
