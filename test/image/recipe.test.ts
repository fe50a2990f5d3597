import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { Recipe, type Reporter, type Step } from '../../src/image/recipe.js';
import { buildRecipe, nodeRecipe } from '../../src/image/steps/index.js';

/** Records what a progress display would show. */
function recorder(): { reporter: Reporter; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    reporter: {
      begin: (label) => {
        lines.push(`begin ${label}`);
        return { bytes: () => {}, note: (t) => lines.push(`note ${label}: ${t}`), warn: () => {} };
      },
      succeed: (label) => lines.push(`ok ${label}`),
      fail: (label, message) => lines.push(`fail ${label}: ${message}`),
    },
  };
}

const double: Step<{ n: number }, { doubled: number }> = { name: 'double', run: async ({ n }) => ({ doubled: n * 2 }) };
const describe: Step<{ doubled: number }, { text: string }> = {
  name: 'describe',
  run: async ({ doubled }, progress) => {
    progress.note(String(doubled));
    return { text: `twice is ${doubled}` };
  },
};

test('a recipe runs its steps in order, each adding to the state the next one reads', async () => {
  const { reporter, lines } = recorder();
  let between = 0;
  const recipe = Recipe.start<{ n: number }>().then(double).then(describe);
  const state = await recipe.run({ n: 21 }, reporter, { prefix: 'lb1: ', beforeStep: () => between++ });
  assert.deepEqual(state, { n: 21, doubled: 42, text: 'twice is 42' });
  assert.deepEqual(lines, ['begin lb1: double', 'ok lb1: double', 'begin lb1: describe', 'note lb1: describe: 42', 'ok lb1: describe']);
  assert.equal(between, 2);
});

test('a failing step is reported under its name and stops the recipe', async () => {
  const { reporter, lines } = recorder();
  const broken: Step<{ doubled: number }, { text: string }> = {
    name: 'describe',
    run: async () => {
      throw new Error('no words');
    },
  };
  const recipe = Recipe.start<{ n: number }>().then(double).then(broken).then({ name: 'never', run: async () => ({}) });
  await assert.rejects(recipe.run({ n: 1 }, reporter), /no words/);
  assert.deepEqual(lines, ['begin double', 'ok double', 'begin describe', 'fail describe: no words']);
});

test('a step may not replace what an earlier step produced', async () => {
  const again: Step<{ n: number }, { doubled: number }> = { name: 'again', run: async () => ({ doubled: 0 }) };
  const recipe = Recipe.start<{ n: number }>().then(double).then(again);
  await assert.rejects(recipe.run({ n: 1 }, recorder().reporter), /step "again" would replace "doubled"/);
});

test("the image recipe's step names (the progress display) are unchanged", () => {
  assert.deepEqual(buildRecipe.names, ['site file', 'lint', 'check inputs', 'build time', 'resolve packages']);
  assert.deepEqual(nodeRecipe('ext3').names, [
    'render configuration',
    'first-boot script',
    "copy Plat'Home files",
    'overlay',
    'stick image',
    'manifest',
    'SHA256SUMS',
  ]);
});

/**
 * Source text without comments and string literals (a template's `${...}` goes with it), so that what is
 * left is code. Enough for these files; not a full TypeScript lexer.
 */
function codeOnly(text: string): string {
  return text.replace(/\/\*[^]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g, (m) =>
    // Newlines kept, so line numbers stay right.
    m.startsWith('/') ? m.replace(/[^\n]/g, ' ') : `""${m.replace(/[^\n]/g, '')}`,
  );
}

/** `x!`, `f()!`, `a[i]!` not followed by `=` (which would be `!=` / `!==`). */
const NON_NULL = /[\w$)\]]!(?!=)/g;

test('the non-null pattern finds assertions and nothing else', () => {
  assert.deepEqual(codeOnly("const a = b!.c; f(x!); m.get('k')!; if (a !== b && !c) {} // d!.e\nconst s = 'wow!';").match(NON_NULL), ['b!', 'x!', ')!']);
});

test('src/image uses no non-null assertions: every step gets what it reads from its typed input', () => {
  const files = (function walk(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  })(join(repoRoot, 'src/image'));
  const found: string[] = [];
  for (const file of files) {
    codeOnly(readFileSync(file, 'utf8'))
      .split('\n')
      .forEach((line, i) => {
        if (NON_NULL.test(line)) found.push(`${relative(repoRoot, file)}:${i + 1}: ${line.trim()}`);
        NON_NULL.lastIndex = 0;
      });
  }
  assert.deepEqual(found, []);
});
