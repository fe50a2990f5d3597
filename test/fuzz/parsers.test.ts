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
const QUICK_SEEDS = 30;

/**
 * Seeds the long run found failing on the parsers as of this commit, one per distinct cause (seeds
 * 1..QUICK_SEEDS that fail are not repeated here: release 3 6 7 8 16 23, packages 18, site 17).
 */
const FOUND_SEEDS: Record<string, number[]> = {
  uimage: [],
  // 40: ar BSD name "#1/-5" -> RangeError; 44: data.tar directory entry with a non-zero size -> never settles.
  deb: [40, 44],
  // 91: base-256 size -> tar-stream's plain Error "Invalid header"; 178: directory entry with size 1 -> never settles.
  tar: [91, 178],
  // 128: a value with 1 MiB of inner spaces -> the trailing-blank regex of the stanza parser goes quadratic.
  packages: [128],
  release: [],
  // 80: a CR inside a field name is echoed raw into the message; 258: 100 000 inner spaces -> quadratic regex.
  control: [80, 258],
  // 456: 125 000 nested "- " -> yaml throws a raw RangeError (stack overflow) past parseSite;
  // 475: a CR inside a quoted value is echoed raw into the message.
  site: [456, 475],
};

const skip = missingTool();
let fixturesDir: string;
let results: CaseResult[] = [];

before(async () => {
  if (skip) return;
  fixturesDir = mkdtempSync(join(tmpdir(), 'obsbuild-fuzz-fixtures-'));
  await buildFixtures(fixturesDir);
  const seeds = Array.from({ length: QUICK_SEEDS }, (_, i) => i + 1);
  const extra = Object.entries(FOUND_SEEDS).flatMap(([target, list]) => list.filter((s) => s > QUICK_SEEDS).map((s) => [target, s] as [string, number]));
  // One worker for all parsers (it starts once, not per parser): npm test already runs two test files at a time.
  results = await runCases({ fixturesDir, targets: Object.keys(TARGETS), seeds, extra });
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
