/**
 * Signal handling belongs to the command layer: src/commands/action.ts is the one module that listens for
 * SIGINT/SIGTERM; every other module registers what to undo (src/util/cleanup.ts) or, for a command that
 * stops gracefully, hands its handler to action.ts.
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

/** process.on / once / addListener / prepend(Once)Listener for SIGINT or SIGTERM, however it is spelled. */
const LISTENS = /\bprocess\s*\.\s*(?:on|once|addListener|prependListener|prependOnceListener)\s*\(\s*['"`](?:SIGINT|SIGTERM)['"`]/;

test('only src/commands/action.ts listens for SIGINT/SIGTERM', () => {
  const listening = sourceFiles(join(repoRoot, 'src'))
    .filter((f) => LISTENS.test(readFileSync(f, 'utf8')))
    .map((f) => relative(repoRoot, f));
  assert.deepEqual(listening, ['src/commands/action.ts']);
});

test('no module outside src/commands listens for SIGINT/SIGTERM', () => {
  const outside = sourceFiles(join(repoRoot, 'src'))
    .filter((f) => !relative(join(repoRoot, 'src'), f).startsWith('commands/'))
    .filter((f) => LISTENS.test(readFileSync(f, 'utf8')))
    .map((f) => relative(repoRoot, f));
  assert.deepEqual(outside, []);
});

test('the pattern finds the ways a listener is installed', () => {
  for (const line of ["process.on('SIGINT', f)", 'process.once("SIGTERM", f)', 'process.addListener(`SIGINT`, f)', "process\n  .prependListener('SIGTERM', f)"]) {
    assert.match(line, LISTENS);
  }
  assert.doesNotMatch("process.removeListener('SIGINT', f)", LISTENS);
  assert.doesNotMatch("child.kill('SIGTERM')", LISTENS);
});
