import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Files obsbuild ships beside its code (board facts, box-side templates, package.json) are found from the
 * package root, the nearest folder above this module that holds package.json. Walking up instead of a fixed
 * `../../..` keeps every caller independent of where the compiler puts the module (dist/src/..., or an
 * installed package's copy of the same layout).
 */
let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (cachedRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`obsbuild's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of a shipped file, given its path relative to the package root (e.g. `board/obs600/board.json`). */
export function assetPath(relative: string): string {
  return join(packageRoot(), relative);
}
