/** Test helpers: read a directory tree into memory, compare it with a golden tree, rewrite golden trees. */
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../helpers/cli.js';

export const fixturesDir = join(repoRoot, 'test', 'fixtures');
export const sitesDir = join(fixturesDir, 'sites');
export const goldenDir = join(fixturesDir, 'golden');
export const updateGolden = process.env.OBSBUILD_UPDATE_GOLDEN === '1';

export interface TreeEntry {
  content: string;
  executable: boolean;
}

/** Every regular file under `dir`, by relative path; dot files (the render marker) are skipped. */
export async function readTree(dir: string, keep: (path: string) => boolean = () => true): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  async function walk(d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (keep(relative(dir, p))) out.set(relative(dir, p), { content: await readFile(p, 'utf8'), executable: ((await stat(p)).mode & 0o111) !== 0 });
    }
  }
  await walk(dir);
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Asserts the files of `actualDir` (those `keep` selects) equal the golden tree `name` file by file, or
 * rewrites the golden tree when OBSBUILD_UPDATE_GOLDEN=1.
 */
export async function assertMatchesGolden(actualDir: string, name: string, keep?: (path: string) => boolean): Promise<void> {
  const expectedDir = join(goldenDir, name);
  const actual = await readTree(actualDir, keep);
  if (updateGolden) {
    await rm(expectedDir, { recursive: true, force: true });
    for (const [path, entry] of actual) {
      await mkdir(dirname(join(expectedDir, path)), { recursive: true });
      await writeFile(join(expectedDir, path), entry.content);
      await chmod(join(expectedDir, path), entry.executable ? 0o755 : 0o644);
    }
    return;
  }
  const expected = await readTree(expectedDir).catch(() => {
    throw new Error(`golden tree ${expectedDir} is missing: run the tests with OBSBUILD_UPDATE_GOLDEN=1 and review it`);
  });
  assert.deepEqual([...actual.keys()], [...expected.keys()], `files of ${name}`);
  for (const [path, want] of expected) {
    const got = actual.get(path)!;
    assert.equal(got.content, want.content, `${name}/${path} differs from the golden file`);
    assert.equal(got.executable, want.executable, `${name}/${path}: executable bit`);
  }
}
