import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modulePathByName, readModulesDep, type UnpackedKernel } from './kernel.js';
import { STANDIN_MTIME, stageModules } from './kerntgz.js';
import { boardFile } from './recipe.js';
import { runTool } from '../util/run-tool.js';

/**
 * The stand-in "stock firmware": a gzip'd newc initramfs with Debian's busybox-static, the board's /init
 * (board/vobs/firmware-init.sh), flashcfg, and the modules that see the CF card, the stick and the NICs.
 */
export async function buildFirmwareInitramfs(opts: {
  kernel: UnpackedKernel;
  /** busybox-static's unpacked root (bin/busybox). */
  busyboxRoot: string;
  modules: string[];
  dest: string;
}): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), 'obsbuild-firmware-'));
  try {
    for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'mnt', 'usr/bin', 'usr/sbin']) {
      await mkdir(join(stage, d), { recursive: true });
    }
    await copyFile(join(opts.busyboxRoot, 'bin/busybox'), join(stage, 'bin/busybox'));
    await chmod(join(stage, 'bin/busybox'), 0o755);
    const applets = (await runTool(join(stage, 'bin/busybox'), ['--list'])).split('\n').filter(Boolean);
    for (const a of applets) if (a !== 'busybox') await symlink('busybox', join(stage, 'bin', a));
    await copyFile(boardFile('firmware-init.sh'), join(stage, 'init'));
    await chmod(join(stage, 'init'), 0o755);
    await copyFile(boardFile('flashcfg'), join(stage, 'sbin/flashcfg'));
    await chmod(join(stage, 'sbin/flashcfg'), 0o755);
    await writeFile(join(stage, 'etc/vobs-modules'), opts.modules.join('\n') + '\n');

    const deps = await readModulesDep(opts.kernel);
    const paths = opts.modules.map((m) => {
      const p = modulePathByName(deps, m);
      if (!p) throw new Error(`module ${m} is not in ${opts.kernel.release}`);
      return p;
    });
    await stageModules(opts.kernel, paths, stage);
    // newc archive, owned by root, fixed times, sorted: the same inputs give the same bytes.
    await runTool(
      'sh',
      ['-c', `find . -exec touch -h -d @${STANDIN_MTIME} {} + && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -n -6 > "$1"`, 'sh', opts.dest],
      { cwd: stage, what: 'packing the firmware initramfs' },
    );
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
