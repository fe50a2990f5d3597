import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** A sibling temporary path, so the final rename stays on one filesystem. */
export function tempSibling(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Run `work` against a temporary path next to `finalPath` and rename it into place only when `work`
 * succeeds; on failure the temporary path is removed and whatever was at `finalPath` stays untouched.
 * Works for files and directories (an existing directory at finalPath is replaced).
 */
export async function writeAtomically<T>(finalPath: string, work: (tmpPath: string) => Promise<T>): Promise<T> {
  await mkdir(dirname(finalPath), { recursive: true });
  const tmp = tempSibling(finalPath);
  try {
    const result = await work(tmp);
    const old = tempSibling(finalPath);
    let movedOld = false;
    try {
      await rename(finalPath, old);
      movedOld = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(tmp, finalPath);
    if (movedOld) await rm(old, { recursive: true, force: true });
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export async function writeFileAtomically(finalPath: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeAtomically(finalPath, (tmp) => writeFile(tmp, data, { mode }));
}
