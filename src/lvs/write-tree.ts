/**
 * Writes generated files under a directory as they would sit in the target root (/etc/hostname →
 * OUT/etc/hostname). The whole directory appears at once or not at all.
 */
import { chmod, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GeneratedFile } from '../contracts/generated-file.js';
import { writeAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';

/** Left in every directory obsbuild writes, so a second run may replace it and nothing else. */
export const RENDER_MARKER = '.obsbuild-render';

export async function writeTree(outDir: string, trees: { under: string; files: GeneratedFile[] }[]): Promise<void> {
  await refuseForeignDirectory(outDir);
  await writeAtomically(outDir, async (tmp) => {
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, RENDER_MARKER), 'written by obsbuild render; the next render replaces this directory\n');
    for (const { under, files } of trees) {
      for (const f of files) await writeOne(join(tmp, under), f);
    }
  });
}

async function writeOne(root: string, f: GeneratedFile): Promise<void> {
  const target = join(root, f.path);
  if (f.type === 'dir') {
    await mkdir(target, { recursive: true });
    await chmod(target, f.mode);
    return;
  }
  await mkdir(dirname(target), { recursive: true });
  if (f.type === 'symlink') {
    await symlink(f.linkTarget ?? String(f.content), target);
    return;
  }
  await writeFile(target, f.content);
  await chmod(target, f.mode); // writeFile's mode is filtered by the umask
}

/** Replacing a directory that holds someone's other files would destroy them: refuse instead. */
async function refuseForeignDirectory(outDir: string): Promise<void> {
  let entries: string[];
  try {
    if (!(await stat(outDir)).isDirectory()) throw new UserError(`${outDir}: exists and is not a directory`);
    entries = await readdir(outDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0 && !entries.includes(RENDER_MARKER)) {
    throw new UserError(`${outDir}: directory is not empty and was not written by obsbuild render; choose a new or empty --out directory`);
  }
}
