/**
 * Creating the folders an output goes into, one level at a time. Node's `mkdir(..., { recursive: true })`
 * loops for ever where mkdir fails with ENOENT although the parent exists (/proc/x): it keeps creating the
 * parent and retrying. Here every level is tried once, so such a path fails with one error.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UserError } from './errors.js';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Creates `dir` and its missing ancestors; returns the folders it created, outermost first. */
export async function makeDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; ) {
    try {
      if (!(await stat(d)).isDirectory()) throw new UserError(`${d}: is not a directory`, { code: 'output-refused' });
      break;
    } catch (err) {
      if (err instanceof UserError) throw err;
      // ENOTDIR: some level above is a file; walking up finds it and names it.
      if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw new UserError(`${d}: cannot use this directory: ${errno(err) ?? (err as Error).message}`, { code: 'output-refused', cause: err });
      missing.push(d);
      const parent = dirname(d);
      if (parent === d) throw new UserError(`${d}: does not exist`, { code: 'output-refused' });
      d = parent;
    }
  }
  const created: string[] = [];
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
      created.push(d);
    } catch (err) {
      if (errno(err) === 'EEXIST' && (await stat(d).catch(() => null))?.isDirectory()) continue;
      await removeDirs(created);
      throw new UserError(`${d}: cannot create the directory: ${errno(err) ?? (err as Error).message}`, { code: 'output-refused', cause: err });
    }
  }
  return created;
}

/** Removes folders makeDirs created, innermost first, as long as they are still empty. */
export async function removeDirs(created: readonly string[]): Promise<void> {
  for (const d of [...created].reverse()) {
    try {
      await rmdir(d);
    } catch {
      return; // not empty (someone else wrote there) or gone: leave it and everything above it
    }
  }
}
