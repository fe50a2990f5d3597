import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BYTE_OPS, LINE_OPS, mutateWith, TEXT_OPS } from './mutate.js';
import { Prng } from './prng.js';
import { runCases, type CaseResult } from './runner.js';
import { registerSelftestTargets } from './targets.js';

test('the PRNG and the mutator replay the same bytes for the same seed, and other bytes for another', () => {
  const input = Buffer.from('Package: keepalived\nVersion: 1:1.1.15-1\nSize: 123456\nDescription: x\n y\n');
  const run = (seed: number) => mutateWith(Prng.fromLabel(`packages:${seed}`), input, [input], TEXT_OPS);
  assert.deepEqual(run(7), run(7));
  const distinct = new Set(Array.from({ length: 20 }, (_, i) => run(i).bytes.toString('latin1')));
  assert.ok(distinct.size >= 18, `20 seeds gave only ${distinct.size} distinct files`);
  assert.equal(Prng.fromLabel('a:1').u32(), Prng.fromLabel('a:1').u32());
  assert.notEqual(Prng.fromLabel('a:1').u32(), Prng.fromLabel('b:1').u32());
});

test('every operator changes its input for some seed, and numeric edits reach Size: fields', () => {
  const input = Buffer.from('Package: a\nSize: 1533\nMD5sum: 0123\n\nPackage: b\nSize: 7\n');
  for (const [name, op] of [...Object.entries(BYTE_OPS), ...Object.entries(LINE_OPS)]) {
    const changed = Array.from({ length: 10 }, (_, s) => op(new Prng(s), input, [input])[0]).some((b) => !b.equals(input));
    assert.ok(changed, `${name} never changed the input`);
  }
  const sizes = new Set(Array.from({ length: 40 }, (_, s) => /Size: (.*)/.exec(BYTE_OPS.numericText(new Prng(s), input, [])[0].toString())?.[1]));
  assert.ok(sizes.size > 5, `numeric edits gave Size values ${[...sizes].join(', ')}`);
});

let work: string;
let results: Map<string, CaseResult>;
before(async () => {
  process.env.OBSBUILD_FUZZ_SELFTEST = '1';
  await registerSelftestTargets();
  work = mkdtempSync(join(tmpdir(), 'obsbuild-fuzz-selftest-'));
  const targets = ['selftest-ok', 'selftest-hang', 'selftest-never', 'selftest-memory', 'selftest-typeerror', 'selftest-multiline', 'selftest-unnamed', 'selftest-ok'];
  const list = await runCases({ fixturesDir: work, targets: [...new Set(targets)], seeds: [1], timeoutMs: 1500, memoryMb: 256 });
  results = new Map(list.map((r) => [r.target, r]));
});
after(() => {
  delete process.env.OBSBUILD_FUZZ_SELFTEST;
  rmSync(work, { recursive: true, force: true });
});

test('the harness accepts a one-line UserError that names the file', () => {
  assert.equal(results.get('selftest-ok')?.outcome, 'rejected', JSON.stringify(results.get('selftest-ok')));
});

test('the harness stops a synchronous hang at the deadline and reports it', () => {
  const r = results.get('selftest-hang')!;
  assert.equal(r.outcome, 'failure');
  assert.match(r.reason!, /no result within 1500 ms of (CPU|wall) time: the event loop is blocked/);
  // The deadline is CPU time: on a loaded machine the wall time is longer, but bounded.
  assert.ok(r.ms < 60_000, `took ${r.ms} ms`);
});

test('the harness tells a promise that never settles from a blocked event loop', () => {
  const r = results.get('selftest-never')!;
  assert.equal(r.outcome, 'failure');
  assert.match(r.reason!, /promise never settles/);
});

test('the harness reports memory growth beyond the bound', () => {
  const r = results.get('selftest-memory')!;
  assert.equal(r.outcome, 'failure');
  assert.match(r.reason!, /memory grew \d+ MiB/);
});

test('the harness reports a TypeError, a two-line message, and a message without the file name', () => {
  assert.match(results.get('selftest-typeerror')!.reason!, /^TypeError instead of a UserError/);
  assert.match(results.get('selftest-multiline')!.reason!, /spans 2 lines/);
  assert.match(results.get('selftest-unnamed')!.reason!, /does not name the file input\.bin/);
  for (const name of ['selftest-typeerror', 'selftest-multiline', 'selftest-unnamed']) assert.match(results.get(name)!.reason!, /./);
  assert.equal(results.get('selftest-typeerror')!.outcome, 'failure');
});
