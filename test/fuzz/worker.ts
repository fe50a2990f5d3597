/**
 * The child process that runs fuzz cases for runner.ts: it rebuilds the mutated bytes from
 * (target, seed), writes them to its scratch folder and calls the parser. A separate process, because a
 * hang in synchronous code cannot be stopped in-process, and so its memory can be measured and capped.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/util/errors.js';
import { buildCase, registerSelftestTargets, TARGETS, writeCase, type Fixture } from './targets.js';

if (process.env.OBSBUILD_FUZZ_SELFTEST === '1') await registerSelftestTargets();

export type ToWorker =
  | { type: 'init'; fixturesDir: string; work: string; targets: string[] }
  | { type: 'case'; target: string; seed: number }
  | { type: 'probe' };

export interface CaseReport {
  type: 'result';
  target: string;
  seed: number;
  fixture: string;
  fileName: string;
  ops: string[];
  size: number;
  kind: 'accepted' | 'user-error' | 'error';
  errorName?: string;
  message?: string;
  stack?: string;
  /** Peak RSS of this process so far, KiB. */
  maxRss: number;
  /** CPU time the case took (mutation, write, parse; all threads), ms. */
  cpuMs: number;
}

export type FromWorker =
  | { type: 'ready'; maxRss: number }
  | CaseReport
  | { type: 'stray'; error: string }
  /** Answer to a probe after the deadline: the event loop still turns; what it is waiting on. */
  | { type: 'probe'; resources: string[] };

const send = (msg: FromWorker) => process.send!(msg);
const fixtures = new Map<string, Fixture[]>();
let work = '';
let current: { target: string; seed: number } | undefined;

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'init') {
    work = msg.work;
    for (const name of msg.targets) {
      const target = TARGETS[name];
      fixtures.set(name, target.load(msg.fixturesDir));
      mkdirSync(join(work, name));
      target.setup?.(msg.fixturesDir, join(work, name));
    }
    send({ type: 'ready', maxRss: process.resourceUsage().maxRSS });
    return;
  }
  if (msg.type === 'probe') {
    send({ type: 'probe', resources: process.getActiveResourcesInfo() });
    return;
  }
  void runCase(msg.target, msg.seed);
});

async function runCase(name: string, seed: number): Promise<void> {
  const target = TARGETS[name];
  const cpu0 = process.cpuUsage();
  const c = buildCase(name, seed, fixtures.get(name)!);
  const dir = join(work, name);
  const file = writeCase(target, dir, c);
  const base = { type: 'result' as const, target: name, seed, fixture: c.fixture, fileName: c.fileName, ops: c.ops, size: c.bytes.length };
  current = { target: name, seed };
  let report: CaseReport;
  try {
    await target.run(file, dir);
    report = { ...base, kind: 'accepted', maxRss: 0, cpuMs: 0 };
  } catch (err) {
    const e = err as Error;
    report = {
      ...base,
      kind: err instanceof UserError ? 'user-error' : 'error',
      errorName: e?.constructor?.name ?? typeof err,
      message: e instanceof Error ? e.message : String(err),
      stack: e instanceof Error ? e.stack : undefined,
      maxRss: 0,
      cpuMs: 0,
    };
  }
  current = undefined;
  report.maxRss = process.resourceUsage().maxRSS;
  const cpu = process.cpuUsage(cpu0);
  report.cpuMs = (cpu.user + cpu.system) / 1000;
  send(report);
}

// Errors outside the awaited promise chain (a stream 'error' nobody listens to) would kill the CLI too.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    const what = `${event} during ${current ? `${current.target} seed ${current.seed}` : 'no case'}: ${(err as Error)?.stack ?? String(err)}`;
    send({ type: 'stray', error: what });
  });
}

process.on('disconnect', () => process.exit(0));
