/**
 * Tar format knowledge has one home, src/archive/: nothing else reads or writes tar through tar-stream, and
 * the path rules live in path-safety.ts alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/cli.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const srcDir = join(repoRoot, 'src');

test('only src/archive/ imports tar-stream', () => {
  const found = sourceFiles(srcDir)
    .filter((f) => /^import[^'"]*from 'tar-stream'/m.test(readFileSync(f, 'utf8')))
    .map((f) => relative(srcDir, f))
    .filter((f) => !f.startsWith('archive/'));
  assert.deepEqual(found, []);
});
