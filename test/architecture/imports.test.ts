/**
 * The shape of src/, checked on the source text: imports point down the layers (commands -> pipeline ->
 * formats -> site -> util -> contracts, never back), shipped files are found through the package root, and
 * comments stand on their own without naming files outside the repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { repoRoot } from '../helpers/cli.js';

/** Each top-level folder of src/ (or the CLI entry) and its layer: a module may import only lower layers or its own folder. */
const LAYER: Record<string, number> = {
  contracts: 0,
  util: 1,
  site: 2,
  archive: 2,
  box: 3,
  lvs: 3,
  debian: 3,
  inputs: 3,
  stick: 3,
  flash: 3,
  console: 3,
  remote: 3,
  image: 4,
  daytwo: 5,
  vobs: 6,
  commands: 7,
  'cli.ts': 8,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const srcDir = join(repoRoot, 'src');
const files = sourceFiles(srcDir);
const areaOf = (path: string): string => relative(srcDir, path).split('/')[0];

test('every src folder has a layer', () => {
  const unknown = [...new Set(files.map(areaOf))].filter((area) => !(area in LAYER));
  assert.deepEqual(unknown, [], 'add the new folder to LAYER in this test, at the layer it belongs to');
});

test('imports point down the layers, never back', () => {
  const upward: string[] = [];
  for (const file of files) {
    const from = areaOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) {
      const to = areaOf(normalize(join(dirname(file), m[1])));
      if (to !== from && !(LAYER[to] < LAYER[from])) upward.push(`${relative(repoRoot, file)} imports ${m[1]} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(upward, []);
});

test('contracts import nothing but Node and each other', () => {
  const found = files
    .filter((f) => areaOf(f) === 'contracts')
    .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^import[^'"]*from '([^']+)'/gm)].map((m) => `${relative(repoRoot, f)}: ${m[1]}`))
    .filter((line) => !/: (node:|\.\/)/.test(line));
  assert.deepEqual(found, []);
});

test('shipped files are found through the package root, not ../../.. paths tied to dist/', () => {
  const found = files.filter((f) => /new URL\('(\.\.\/){2,}/.test(readFileSync(f, 'utf8'))).map((f) => relative(repoRoot, f));
  assert.deepEqual(found, []);
});

test('no source, script, board or overlay file names a path outside the repository or an issue number', () => {
  const roots = ['src', 'scripts', 'board', 'overlays', 'test'].map((d) => join(repoRoot, d));
  const all = roots.flatMap((root) =>
    sourceFilesAny(root).filter((f) => !f.includes('/fixtures/golden/') && !f.endsWith('imports.test.ts')),
  );
  const offenders: string[] = [];
  for (const file of all) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/shared\/(reference|seeds|third-party)|\.\.\/shared\b|\bissues? #?\d+\b|\bseeds? 0\d\d\b/i.test(line)) {
          offenders.push(`${relative(repoRoot, file)}:${i + 1}: ${line.trim()}`);
        }
      });
  }
  assert.deepEqual(offenders, []);
});

function sourceFilesAny(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory() ? sourceFilesAny(join(dir, e.name)) : /\.(ts|sh|tmpl|json|yaml|md)$|^[a-z-]+$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

test('the virtual board is a client of the product: only the vm command imports it', () => {
  const found = files
    .filter((f) => areaOf(f) !== 'vobs' && relative(srcDir, f) !== 'commands/vm.ts')
    .filter((f) => [...readFileSync(f, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)].some((m) => areaOf(normalize(join(dirname(f), m[1]))) === 'vobs'))
    .map((f) => relative(repoRoot, f));
  assert.deepEqual(found, []);
});
