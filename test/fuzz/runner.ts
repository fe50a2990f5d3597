/**
 * Runs fuzz cases in child processes (worker.ts) with a per-case deadline and a memory bound, and
 * classifies each: accepted, rejected with a proper one-line UserError naming the file, or a failure
 * (another error class, a message over several lines or not naming the file, a hang, a crash, memory).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCase, TARGETS, type Fixture } from './targets.js';
import type { CaseReport, FromWorker, ToWorker } from './worker.js';

export interface RunOptions {
  fixturesDir: string;
  targets: string[];
  /** Seeds per target. */
  seeds: number[];
  /** More (target, seed) pairs to run after targets x seeds. */
  extra?: [string, number][];
  concurrency?: number;
  timeoutMs?: number;
  /** Growth of the worker's resident memory over its baseline that counts as a failure, MiB. */
  memoryMb?: number;
  onResult?: (r: CaseResult) => void;
}

export type Outcome = 'accepted' | 'rejected' | 'failure';

export interface CaseResult {
  target: string;
  seed: number;
  outcome: Outcome;
  /** For a failure: what was wrong, one line. */
  reason?: string;
  /** The parser's error message (UserError or not). */
  message?: string;
  stack?: string;
  fixture?: string;
  ops?: string[];
  size?: number;
  /** Wall time from sending the case to its result, ms. */
  ms: number;
  /** The worker's CPU time for the case, ms (absent when the worker was stopped). */
  cpuMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_MEMORY_MB = 256;
/** A case waiting on I/O (not on the CPU) is given up after this many deadlines of wall time. */
const WALL_FACTOR = 5;
/** Whatever the CPU clock says, no case waits longer than this. */
const HARD_WALL_MS = 60_000;

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

/** How to replay one case, printed with every failure. */
export function reproCommand(target: string, seed: number): string {
  return `npm run build && node dist/scripts/fuzz.js --parser ${target} --seeds 1 --start ${seed} --save /tmp/fuzz-case`;
}

/** A failure as the lines to print: parser, seed, what happened, how to reproduce. */
export function describeFailure(r: CaseResult): string {
  return [
    `${r.target} seed ${r.seed}: ${r.reason}`,
    `  fixture ${r.fixture ?? '?'} -> ${r.size ?? '?'} bytes; mutations: ${(r.ops ?? []).join(' ')}`,
    ...(r.message !== undefined ? [`  message: ${JSON.stringify(r.message.slice(0, 400))}`] : []),
    ...(r.stack ? [`  at: ${r.stack.split('\n').slice(1, 4).map((l) => l.trim()).join(' | ')}`] : []),
    `  reproduce: ${reproCommand(r.target, r.seed)}`,
  ].join('\n');
}

/** The classification rule: what a parser may do with a corrupted file. */
export function classify(rep: CaseReport, ms: number): CaseResult {
  const base = { target: rep.target, seed: rep.seed, fixture: rep.fixture, ops: rep.ops, size: rep.size, ms, cpuMs: rep.cpuMs, message: rep.message };
  if (rep.kind === 'accepted') return { ...base, outcome: 'accepted' };
  if (rep.kind === 'error') {
    return { ...base, outcome: 'failure', reason: `${rep.errorName} instead of a UserError: ${firstLine(rep.message)}`, stack: rep.stack };
  }
  const msg = rep.message ?? '';
  if (/[\r\n]/.test(msg)) return { ...base, outcome: 'failure', reason: `UserError message spans ${msg.split(/\r?\n|\r/).length} lines`, stack: rep.stack };
  if (!msg.includes(rep.fileName)) return { ...base, outcome: 'failure', reason: `UserError message does not name the file ${rep.fileName}`, stack: rep.stack };
  return { ...base, outcome: 'rejected' };
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0].slice(0, 300);
}

/** Resident set of a process, KiB (Linux /proc; undefined elsewhere). */
function rssKiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return (pages * 4096) / 1024;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, all threads) of a process, ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

interface Slot {
  child?: ChildProcess;
  baseline: number;
  /** The worker's scratch folder, removed with the worker (a killed worker cannot clean up). */
  work?: string;
}

export async function runCases(opts: RunOptions): Promise<CaseResult[]> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const memoryKiB = (opts.memoryMb ?? DEFAULT_MEMORY_MB) * 1024;
  const queue: [string, number][] = [];
  for (const target of opts.targets) for (const seed of opts.seeds) queue.push([target, seed]);
  queue.push(...(opts.extra ?? []));
  const queue0 = [...queue];
  const results: CaseResult[] = [];
  // A hang or crash leaves no report from the worker: rebuild the case here to say what it was.
  const loaded = new Map<string, Fixture[]>();
  const record = (r: CaseResult) => {
    if (r.outcome === 'failure' && r.ops === undefined) {
      if (!loaded.has(r.target)) loaded.set(r.target, TARGETS[r.target].load(opts.fixturesDir));
      const c = buildCase(r.target, r.seed, loaded.get(r.target)!);
      Object.assign(r, { fixture: c.fixture, ops: c.ops, size: c.bytes.length });
    }
    results.push(r);
    opts.onResult?.(r);
  };

  const start = (slot: Slot) =>
    new Promise<void>((resolve, reject) => {
      // The heap cap is a backstop for the RSS poll below; V8 aborts the child past it.
      const child = fork(WORKER, [], { execArgv: [`--max-old-space-size=${Math.ceil(memoryKiB / 1024) * 2}`], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      child.stderr?.resume();
      slot.child = child;
      child.once('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.baseline = m.maxRss;
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`fuzz worker exited during start (${code})`)));
      slot.work = mkdtempSync(join(tmpdir(), 'obsbuild-fuzz-work-'));
      child.send({ type: 'init', fixturesDir: opts.fixturesDir, work: slot.work, targets: [...new Set(queue0.map(([t]) => t))] } satisfies ToWorker);
    });

  const stop = (slot: Slot) => {
    const child = slot.child;
    slot.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (slot.work) rmSync(slot.work, { recursive: true, force: true });
    slot.work = undefined;
  };

  const runOne = (slot: Slot, target: string, seed: number) =>
    new Promise<CaseResult>((resolve) => {
      const child = slot.child!;
      const t0 = performance.now();
      const ms = () => Math.round(performance.now() - t0);
      let done = false;
      const finish = (r: CaseResult, restart: boolean) => {
        if (done) return;
        done = true;
        clearInterval(poll);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (restart) stop(slot);
        resolve(r);
      };
      const fail = (reason: string, extra: Partial<CaseResult> = {}) =>
        finish({ target, seed, outcome: 'failure', reason, ms: ms(), ...extra }, true);
      const onMessage = (m: FromWorker) => {
        if (m.type === 'stray') fail(`error outside the parser's promise: ${firstLine(m.error)}`, { stack: m.error });
        else if (m.type === 'result') {
          const r = classify(m, ms());
          const grew = m.maxRss - slot.baseline;
          if (grew > memoryKiB) finish({ ...r, outcome: 'failure', reason: `peak memory grew ${Math.round(grew / 1024)} MiB over the worker's baseline (bound ${memoryKiB / 1024} MiB)` }, true);
          else finish(r, false); // a wrong error class or message leaves the worker sound: keep it
        }
      };
      const onExit = (code: number | null, signal: string | null) => fail(`the worker died (exit ${code}, signal ${signal}): a crash or V8 heap exhaustion`);
      // The deadline counts the worker's CPU time where /proc gives it, so a machine busy with other work
      // does not turn a slow case into a "hang"; wall time otherwise. Past the deadline in wall time the
      // worker is asked what it waits for: no answer means its event loop is blocked (a synchronous loop, a
      // slow regex), which the CPU deadline then ends; an answer with nothing but the IPC pipe means the
      // parser's promise can never settle (the CLI would exit 13 without a word); pending I/O gets
      // WALL_FACTOR deadlines of wall time.
      const cpu0 = cpuMs(child.pid);
      let probing = false;
      let waitingIo = false;
      let lastProbe = 0;
      let idleSince: { at: number; cpu: number } | undefined;
      const probe = () => {
        probing = true;
        lastProbe = ms();
        const silent = setTimeout(() => {
          child.off('message', onProbe);
          probing = false;
          waitingIo = false;
        }, 300);
        const onProbe = (m: FromWorker) => {
          if (m.type !== 'probe') return;
          clearTimeout(silent);
          child.off('message', onProbe);
          probing = false;
          const waiting = m.resources.filter((r) => r !== 'PipeWrap');
          // Work on the thread pool (zlib) is not listed: only two idle answers with no CPU spent in
          // between prove that nothing is left to wake the parser.
          const cpuNow = cpuMs(child.pid) ?? 0;
          if (waiting.length > 0) idleSince = undefined;
          else if (idleSince === undefined || cpuNow - idleSince.cpu >= 30) idleSince = { at: ms(), cpu: cpuNow };
          else if (ms() - idleSince.at >= 400) {
            fail(`no result after ${ms()} ms: the parser's promise never settles (nothing left to wake it; the CLI would exit 13 with no message)`);
          }
          waitingIo = true;
        };
        child.on('message', onProbe);
        child.send({ type: 'probe' } satisfies ToWorker);
      };
      const poll = setInterval(() => {
        const rss = rssKiB(child.pid);
        if (rss !== undefined && rss - slot.baseline > memoryKiB) fail(`resident memory grew ${Math.round((rss - slot.baseline) / 1024)} MiB over the baseline while parsing`);
        const cpu = cpuMs(child.pid);
        const used = cpu !== undefined && cpu0 !== undefined ? cpu - cpu0 : ms();
        if (used > timeoutMs) {
          fail(`no result within ${timeoutMs} ms of ${cpu === undefined ? 'wall' : 'CPU'} time: ${waitingIo ? 'busy' : 'the event loop is blocked (a synchronous loop or a slow regex or parse)'}`);
        } else if (ms() > timeoutMs && !probing && ms() - lastProbe > 500) {
          probe();
        }
        if (waitingIo && ms() > timeoutMs * WALL_FACTOR) fail(`no result within ${timeoutMs * WALL_FACTOR} ms of wall time, still waiting on I/O`);
        if (ms() > HARD_WALL_MS) fail(`no result within ${HARD_WALL_MS} ms of wall time (CPU time so far ${Math.round(used)} ms)`);
      }, 20);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type: 'case', target, seed } satisfies ToWorker);
    });

  const lane = async () => {
    const slot: Slot = { baseline: 0 };
    try {
      for (let next = queue.shift(); next; next = queue.shift()) {
        if (!slot.child) await start(slot);
        record(await runOne(slot, next[0], next[1]));
      }
    } finally {
      stop(slot);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, lane));
  return results;
}
