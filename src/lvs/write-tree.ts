/**
 * Writes generated files under a directory as they would sit in the target root (/etc/hostname →
 * OUT/etc/hostname). The whole directory appears at once or not at all.
 */
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GeneratedFile } from '../contracts/generated-file.js';
import { writeOutput, type OutputRule } from '../util/output-path.js';

/** Left in every directory obsbuild writes, so a second run may replace it and nothing else. */
export const RENDER_MARKER = '.obsbuild-render';

/** render and realserver --out: a new or empty directory, or one an earlier run wrote. */
export const TREE_OUTPUT: OutputRule = { argument: '--out', kind: 'dir', markers: [RENDER_MARKER], owner: 'obsbuild render or realserver' };

export async function writeTree(outDir: string, trees: { under: string; files: GeneratedFile[] }[]): Promise<void> {
  await writeOutput(outDir, TREE_OUTPUT, async (tmp) => {
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
