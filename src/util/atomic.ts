import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { makeDirs } from './dirs.js';

/** A sibling temporary path, so the final rename stays on one filesystem. */
export function tempSibling(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Moves `tmp` to `finalPath`, replacing whatever is there (file or directory) in two renames, so
 * finalPath always holds either the old or the new content.
 */
export async function swapIntoPlace(tmp: string, finalPath: string): Promise<void> {
  const old = tempSibling(finalPath);
  let movedOld = false;
  try {
    await rename(finalPath, old);
    movedOld = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    await rename(tmp, finalPath);
  } catch (err) {
    if (movedOld) await rename(old, finalPath).catch(() => {});
    throw err;
  }
  if (movedOld) await rm(old, { recursive: true, force: true });
}

/**
 * Run `work` against a temporary path next to `finalPath` and rename it into place only when `work`
 * succeeds; on failure the temporary path is removed and whatever was at `finalPath` stays untouched.
 * Works for files and directories (an existing directory at finalPath is replaced), so it is for paths
 * obsbuild owns; a path the user names goes through src/util/output-path.ts, which decides first
 * whether it may be replaced.
 */
export async function writeAtomically<T>(finalPath: string, work: (tmpPath: string) => Promise<T>): Promise<T> {
  await makeDirs(dirname(finalPath));
  const tmp = tempSibling(finalPath);
  try {
    const result = await work(tmp);
    await swapIntoPlace(tmp, finalPath);
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export async function writeFileAtomically(finalPath: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeAtomically(finalPath, (tmp) => writeFile(tmp, data, { mode }));
}
