/**
 * The quick fuzz run: fixed seeds, so it replays the same corrupted files every time. Each parser must end
 * every case within 2 s with an accepted file or a one-line UserError naming the file, its memory
 * bounded. The long run is `npm run fuzz` (scripts/fuzz.ts); seeds it finds failing belong in
 * FOUND_SEEDS below so a fix stays fixed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildFixtures, missingTool } from './fixtures.js';
import { describeFailure, runCases, type CaseResult } from './runner.js';
import { TARGETS } from './targets.js';

/** Seeds 1..QUICK_SEEDS for every parser. */
const QUICK_SEEDS = 40;

/** Seeds the long run found failing (see the report with the commit that added them). */
const FOUND_SEEDS: Record<string, number[]> = {
  uimage: [],
  deb: [],
  tar: [],
  packages: [],
  release: [],
  control: [],
  site: [],
};

const skip = missingTool();
let fixturesDir: string;
let results: CaseResult[] = [];

before(async () => {
  if (skip) return;
  fixturesDir = mkdtempSync(join(tmpdir(), 'obsbuild-fuzz-fixtures-'));
  await buildFixtures(fixturesDir);
  const seeds = Array.from({ length: QUICK_SEEDS }, (_, i) => i + 1);
  // One worker for all parsers: npm test already runs two test files at a time on this machine.
  for (const target of Object.keys(TARGETS)) {
    const extra = FOUND_SEEDS[target].filter((s) => !seeds.includes(s));
    results.push(...(await runCases({ fixturesDir, targets: [target], seeds: [...seeds, ...extra] })));
  }
});

after(() => {
  if (fixturesDir) rmSync(fixturesDir, { recursive: true, force: true });
});

for (const target of Object.keys(TARGETS)) {
  test(`fuzz ${target}: ${TARGETS[target].describe}: every corrupted file is accepted or refused in one line within 2 s`, { skip: skip && `${skip} is not installed` }, () => {
    const mine = results.filter((r) => r.target === target);
    assert.equal(mine.length, QUICK_SEEDS + FOUND_SEEDS[target].filter((s) => s > QUICK_SEEDS).length);
    const failures = mine.filter((r) => r.outcome === 'failure');
    assert.equal(failures.length, 0, `\n${failures.map(describeFailure).join('\n')}`);
    // A mutator that never gets past the first check tests nothing: some cases must be accepted, some refused.
    assert.ok(mine.some((r) => r.outcome === 'rejected'), 'no case was refused');
  });
}
