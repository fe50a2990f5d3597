/**
 * The long parser fuzz run: seeded corruptions of real fixtures fed to each parser's entry point, each
 * case in a child process with a 2 s deadline and a memory bound. `npm test` runs a quick fixed-seed
 * slice of the same (test/fuzz/parsers.test.ts); this runs as many seeds as asked.
 *
 *   node dist/scripts/fuzz.js [--parser NAME|all] [--seeds N] [--start S] [--concurrency C] [--save DIR]
 */
import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildFixtures, missingTool } from '../test/fuzz/fixtures.js';
import { DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_MS, describeFailure, runCases, type CaseResult } from '../test/fuzz/runner.js';
import { UserError } from '../src/util/errors.js';
import { buildCase, TARGETS, writeCase } from '../test/fuzz/targets.js';

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const program = new Command()
  .name('fuzz')
  .description('mutation-test the input parsers with seeded corruptions of real files')
  .option('--parser <name>', `one of ${Object.keys(TARGETS).join(', ')}, or all`, 'all')
  .option('--seeds <n>', 'seeds per parser', '1000')
  .option('--start <s>', 'first seed', '1')
  .option('--concurrency <c>', 'worker processes', '2')
  .option('--timeout <ms>', 'deadline per case', String(DEFAULT_TIMEOUT_MS))
  .option('--memory <mb>', 'memory growth per case that counts as a failure', String(DEFAULT_MEMORY_MB))
  .option('--save <dir>', 'also write each case\'s mutated file to DIR (to replay it by hand)')
  .option('--fixtures <dir>', 'reuse fixtures built before (default: build them in a temp folder)')
  .option('--inline', 'run the cases in this process without a deadline, printing how each ends and how long it took (to study a hang)')
  .option('-v, --verbose', 'print every case, not only failures')
  .parse();

const o = program.opts<{ parser: string; seeds: string; start: string; concurrency: string; timeout: string; memory: string; save?: string; fixtures?: string; inline?: boolean; verbose?: boolean }>();
const targets = o.parser === 'all' ? Object.keys(TARGETS) : o.parser.split(',');
for (const t of targets) {
  if (!TARGETS[t]) {
    console.error(`fuzz: unknown parser ${t} (${Object.keys(TARGETS).join(', ')})`);
    process.exit(2);
  }
}
const count = Number(o.seeds);
const first = Number(o.start);
if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(first)) {
  console.error('fuzz: --seeds and --start take integers');
  process.exit(2);
}
const missing = missingTool();
if (missing && !o.fixtures) {
  console.error(`fuzz: ${missing} is needed to build the fixtures (scripts/install-deps.sh)`);
  process.exit(1);
}

const tmp = o.fixtures ? undefined : mkdtempSync(join(tmpdir(), 'obsbuild-fuzz-fixtures-'));
try {
  const fixtures = o.fixtures ? { dir: resolve(o.fixtures), digest: '(given)' } : await buildFixtures(tmp!);
  const seeds = Array.from({ length: count }, (_, i) => first + i);
  console.log(`fuzz: fixtures ${fixtures.digest}; ${targets.join(', ')}; seeds ${first}..${first + count - 1}`);

  if (o.save) {
    mkdirSync(o.save, { recursive: true });
    for (const t of targets) {
      const list = TARGETS[t].load(fixtures.dir);
      for (const seed of seeds) {
        const c = buildCase(t, seed, list);
        const path = join(o.save, `${t}-${seed}-${c.fileName}`);
        writeFileSync(path, c.bytes);
        console.log(`${path}: from ${c.fixture}: ${c.ops.join(' ')}`);
      }
    }
  }

  if (o.inline) {
    for (const t of targets) {
      const target = TARGETS[t];
      const list = target.load(fixtures.dir);
      const work = mkdtempSync(join(tmpdir(), 'obsbuild-fuzz-inline-'));
      try {
        target.setup?.(fixtures.dir, work);
        for (const seed of seeds) {
          const c = buildCase(t, seed, list);
          const file = writeCase(target, work, c);
          const t0 = performance.now();
          let outcome: string;
          try {
            await target.run(file, work);
            outcome = 'accepted';
          } catch (err) {
            const e = err as Error;
            outcome = `${err instanceof UserError ? 'UserError' : e?.constructor?.name}: ${JSON.stringify(e?.message ?? String(err))}`;
          }
          const ms = Math.round(performance.now() - t0);
          console.log(`${t} seed ${seed}: ${ms} ms, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB: ${outcome.slice(0, 500)}`);
        }
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    process.exit(0);
  }

  const perTarget = new Map<string, { n: number; accepted: number; rejected: number; failures: number; ms: number; times: number[]; cpu: number; cpuN: number }>();
  const failures: CaseResult[] = [];
  const started = new Map<string, number>();
  const wall = performance.now();
  const results = await runCases({
    fixturesDir: fixtures.dir,
    targets,
    seeds,
    concurrency: Number(o.concurrency),
    timeoutMs: Number(o.timeout),
    memoryMb: Number(o.memory),
    onResult: (r) => {
      if (!started.has(r.target)) started.set(r.target, performance.now());
      const s = perTarget.get(r.target) ?? { n: 0, accepted: 0, rejected: 0, failures: 0, ms: 0, times: [], cpu: 0, cpuN: 0 };
      s.times.push(r.ms);
      if (r.cpuMs !== undefined) {
        s.cpu += r.cpuMs;
        s.cpuN++;
      }
      s.n++;
      s.ms += r.ms;
      if (r.outcome === 'accepted') s.accepted++;
      else if (r.outcome === 'rejected') s.rejected++;
      else s.failures++;
      perTarget.set(r.target, s);
      if (r.outcome === 'failure') {
        failures.push(r);
        console.log(`FAIL ${describeFailure(r)}`);
      } else if (o.verbose) {
        console.log(`${r.outcome} ${r.target} seed ${r.seed} (${r.ms} ms)${r.message ? `: ${r.message}` : ''}`);
      }
    },
  });
  const seconds = (performance.now() - wall) / 1000;
  console.log(`\nparser     cases  accepted  rejected  failures  cases/s  median ms  p99 ms  CPU ms/case  (wall figures per worker, incl. deadline cases; CPU: cases that returned)`);
  for (const [t, s] of perTarget) {
    console.log(
      `${t.padEnd(10)} ${String(s.n).padStart(5)} ${String(s.accepted).padStart(9)} ${String(s.rejected).padStart(9)} ${String(s.failures).padStart(9)}  ${(s.n / (s.ms / 1000)).toFixed(1).padStart(7)}  ${String(quantile(s.times, 0.5)).padStart(9)}  ${String(quantile(s.times, 0.99)).padStart(6)}  ${(s.cpu / Math.max(1, s.cpuN)).toFixed(1).padStart(11)}`,
    );
  }
  console.log(`${results.length} cases in ${seconds.toFixed(1)} s (${(results.length / seconds).toFixed(1)} cases/s overall), ${failures.length} failures`);
  process.exitCode = failures.length ? 1 : 0;
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
