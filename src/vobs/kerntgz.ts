import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { moduleClosure, modulesUnder, readModulesDep, type UnpackedKernel } from './kernel.js';
import { runTool } from '../util/run-tool.js';

/** Files depmod needs next to the modules (modules.dep itself is regenerated for the subset). */
const INDEX_FILES = ['modules.order', 'modules.builtin', 'modules.builtin.modinfo'];

/** Fixed time for every entry, so the same kernel gives the same bytes. */
export const STANDIN_MTIME = 1263859200; // 2010-01-19, the date of Plat'Home's rootfs tarball

/**
 * Copy the listed modules (and what they depend on) into `stage/lib/modules/<release>` and index them
 * with depmod. Shared by kern.tgz and the firmware initramfs.
 */
export async function stageModules(kernel: UnpackedKernel, paths: string[], stage: string): Promise<string[]> {
  const deps = await readModulesDep(kernel);
  const all = moduleClosure(deps, paths);
  const src = join(kernel.root, 'lib/modules', kernel.release);
  const dst = join(stage, 'lib/modules', kernel.release);
  for (const rel of all) {
    await mkdir(dirname(join(dst, rel)), { recursive: true });
    await copyFile(join(src, rel), join(dst, rel));
  }
  await mkdir(dst, { recursive: true });
  for (const f of INDEX_FILES) await copyFile(join(src, f), join(dst, f));
  await runTool('depmod', ['-b', stage, kernel.release], { what: 'indexing the staged modules' });
  return all;
}

/** kern.tgz as Plat'Home ships it: lib/modules/<release>/… to unpack at the root, the board's drivers only. */
export async function buildKernTgz(kernel: UnpackedKernel, dirs: string[], dest: string): Promise<number> {
  const deps = await readModulesDep(kernel);
  const stage = await mkdtemp(join(tmpdir(), 'obsbuild-kern-'));
  try {
    const modules = await stageModules(kernel, modulesUnder(deps, dirs), stage);
    await runTool(
      'tar',
      ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${STANDIN_MTIME}`,
        '-I', 'gzip -n -6', '-cf', dest, '-C', stage, 'lib'],
      { what: 'packing kern.tgz' },
    );
    return modules.length;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
