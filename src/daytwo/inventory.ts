/**
 * Running one day-two job (verify, apply) on many boxes: at most `jobs` at once, one log file per box, a
 * box's failure or exception never stops the others, and a summary of every box at the end. In
 * 'backup-first' order the two nodes of an HA pair are never worked on together: the backup goes first and
 * the master only after the backup passed, so the service sees at most one failover and a bad change stops
 * at the node that is not serving.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { NodeRole } from '../site/model.js';
import type { BoxShell } from '../remote/box-shell.js';
import { oneLine, UserError } from '../util/errors.js';
import { makeDirs } from '../util/dirs.js';
import { describeBoxTarget, openBoxShell, type BoxTarget } from './transport.js';

/** What the runner needs of a box; the inventory file's InventoryBox is one. */
export interface RunnableBox {
  /** Unique, and safe as a file name (the inventory file checks it). */
  name: string;
  /** The site file's absolute path: boxes with the same one and nodes master and backup are one pair. */
  site: string;
  node?: NodeRole;
  target: BoxTarget;
}

export interface JobContext {
  /** Appends text to the box's log file, each line time-stamped. */
  log: (text: string) => void;
}

export interface JobOutcome {
  passed: boolean;
  /** The first thing that did not pass, one line, for the summary table. */
  problem?: string | null;
  /** The job's own report (e.g. a VerifyReport), carried into the JSON summary as it is. */
  report?: unknown;
}

export type InventoryJob<B extends RunnableBox = RunnableBox> = (box: B, ctx: JobContext) => Promise<JobOutcome>;

/** 'error' is a job that threw something other than a UserError: a bug, reported apart from a failed box. */
export type BoxResultKind = 'passed' | 'failed' | 'error' | 'skipped';

export interface BoxResult {
  name: string;
  node: NodeRole | null;
  site: string;
  transport: string;
  result: BoxResultKind;
  /** When the box's job started and ended (UTC, ISO 8601); null for a skipped box. */
  startedAt: string | null;
  endedAt: string | null;
  seconds: number;
  problem: string | null;
  /** The box's log file, or null when it could not be written. */
  log: string | null;
  report?: unknown;
}

export interface InventorySummary {
  passed: boolean;
  boxes: BoxResult[];
}

export type InventoryOrder = 'any' | 'backup-first';

export interface RunInventoryOptions {
  /** How many boxes are worked on at once (at least 1). */
  jobs: number;
  /** An existing or creatable folder; each box's log is written as <name>.log (<name>.log.partial while running). */
  logDir: string;
  order: InventoryOrder;
  /** One line per box start and end, for the terminal. */
  onProgress?: (line: string) => void;
}

/** A log a job fills with megabytes a second is cut here, with a note; the box's result is unaffected. */
export const MAX_BOX_LOG_BYTES = 64 << 20;
const MAX_PROBLEM_CHARS = 2000;

/** For each master, the index of its pair's backup when both are in the list and the order asks for it. */
function backupFirst(boxes: readonly RunnableBox[], order: InventoryOrder): Map<number, number> {
  const waitsFor = new Map<number, number>();
  if (order !== 'backup-first') return waitsFor;
  const backups = new Map<string, number>();
  boxes.forEach((b, i) => b.node === 'backup' && backups.set(b.site, i));
  boxes.forEach((b, i) => {
    const backup = backups.get(b.site);
    if (b.node === 'master' && backup !== undefined) waitsFor.set(i, backup);
  });
  return waitsFor;
}

export async function runInventory<B extends RunnableBox>(boxes: readonly B[], job: InventoryJob<B>, opts: RunInventoryOptions): Promise<InventorySummary> {
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new Error(`runInventory: jobs must be a whole number >= 1, not ${opts.jobs}`);
  await makeDirs(opts.logDir);
  const progress = opts.onProgress ?? (() => {});
  const waitsFor = backupFirst(boxes, opts.order);
  const results: (BoxResult | undefined)[] = boxes.map(() => undefined);
  const pending = boxes.map((_, i) => i);
  let running = 0; // jobs holding a slot
  let skipping = 0; // skipped boxes whose short log is being written; they hold no slot

  await new Promise<void>((resolveAll, rejectAll) => {
    const pump = (): void => {
      try {
        // A master whose backup did not pass is not touched: reported, never started, no slot taken.
        for (let k = 0; k < pending.length; ) {
          const i = pending[k];
          const dep = waitsFor.get(i);
          const depResult = dep === undefined ? undefined : results[dep];
          if (depResult && depResult.result !== 'passed') {
            pending.splice(k, 1);
            skipping++;
            void skip(boxes[i], boxes[dep!], depResult, opts.logDir).then((r) => finish(i, r, false), rejectAll);
          } else {
            k++;
          }
        }
        while (running < opts.jobs) {
          const k = pending.findIndex((i) => {
            const dep = waitsFor.get(i);
            return dep === undefined || results[dep] !== undefined;
          });
          if (k < 0) break;
          const [i] = pending.splice(k, 1);
          running++;
          void runOne(boxes[i], job, opts.logDir, progress).then((r) => finish(i, r, true), rejectAll);
        }
        if (running === 0 && skipping === 0 && pending.length === 0) resolveAll();
      } catch (err) {
        rejectAll(err);
      }
    };
    const finish = (i: number, r: BoxResult, slot: boolean): void => {
      results[i] = r;
      if (slot) running--;
      else skipping--;
      if (r.result === 'skipped') progress(`${r.name}: skipped: ${r.problem}`);
      pump();
    };
    pump();
  });

  const done = results as BoxResult[];
  return { passed: done.every((r) => r.result === 'passed'), boxes: done };
}

/** The box's log: time-stamped lines into <name>.log.partial, renamed to <name>.log when closed. */
class BoxLog {
  readonly #final: string;
  readonly #partial: string;
  readonly #stream: WriteStream;
  #bytes = 0;
  #cut = false;
  #failed: string | null = null;

  constructor(logDir: string, name: string) {
    this.#final = join(logDir, `${name}.log`);
    this.#partial = `${this.#final}.partial`;
    this.#stream = createWriteStream(this.#partial, { flags: 'w', mode: 0o644 });
    this.#stream.on('error', (err: NodeJS.ErrnoException) => {
      this.#failed ??= err.code ?? err.message;
    });
  }

  /** `last`: the result line, written even past the cap so every log ends with its verdict. */
  write(text: string, last = false): void {
    if (this.#failed || (this.#cut && !last)) return;
    const stamp = new Date().toISOString();
    // Box output is untrusted: every line stays one line, with control characters shown escaped.
    const out = text
      .split('\n')
      .map((l) => `${stamp} ${oneLine(l)}\n`)
      .join('');
    const size = Buffer.byteLength(out);
    if (!last && this.#bytes + size > MAX_BOX_LOG_BYTES) {
      this.#cut = true;
      this.#stream.write(`${stamp} [log cut at ${MAX_BOX_LOG_BYTES >> 20} MiB]\n`);
      return;
    }
    this.#bytes += size;
    this.#stream.write(out);
  }

  /** The log's final path, or null with the reason when it could not be written. */
  async close(): Promise<{ path: string | null; problem: string | null }> {
    this.#stream.end();
    await finished(this.#stream).catch(() => {});
    if (!this.#failed) await rename(this.#partial, this.#final).catch((err: NodeJS.ErrnoException) => (this.#failed = err.code ?? err.message));
    return this.#failed ? { path: null, problem: `${this.#partial}: cannot write the log: ${this.#failed}` } : { path: this.#final, problem: null };
  }
}

function problemText(text: string): string {
  const line = oneLine(text);
  return line.length > MAX_PROBLEM_CHARS ? `${line.slice(0, MAX_PROBLEM_CHARS)}...` : line;
}

function base(box: RunnableBox): Pick<BoxResult, 'name' | 'node' | 'site' | 'transport'> {
  return { name: box.name, node: box.node ?? null, site: box.site, transport: describeBoxTarget(box.target) };
}

/** Runs one box's job; never rejects: whatever the job does becomes the box's result. */
async function runOne<B extends RunnableBox>(box: B, job: InventoryJob<B>, logDir: string, progress: (line: string) => void): Promise<BoxResult> {
  const transport = describeBoxTarget(box.target);
  const log = new BoxLog(logDir, box.name);
  log.write(`box ${box.name}: ${transport}, site ${box.site}${box.node ? `, node ${box.node}` : ''}`);
  progress(`${box.name}: started (${transport})`);
  const start = performance.now();
  const startedAt = new Date().toISOString();
  let result: BoxResultKind;
  let problem: string | null = null;
  let report: unknown;
  try {
    const outcome = await job(box, { log: (text) => log.write(text) });
    if (outcome === null || typeof outcome !== 'object' || typeof outcome.passed !== 'boolean') throw new Error('the job returned no outcome');
    result = outcome.passed ? 'passed' : 'failed';
    problem = outcome.passed ? null : problemText(outcome.problem ?? 'did not pass (no reason given)');
    report = outcome.report;
  } catch (err) {
    if (err instanceof UserError) {
      result = 'failed';
      problem = problemText(err.message);
    } else {
      result = 'error';
      problem = problemText(`internal error: ${(err as Error)?.message ?? String(err)}`);
      log.write(`internal error: ${(err as Error)?.stack ?? String(err)}`);
    }
  }
  const seconds = Math.round((performance.now() - start) / 100) / 10;
  log.write(`result: ${result} in ${seconds.toFixed(1)} s${problem ? `: ${problem}` : ''}`, true);
  const written = await log.close();
  if (written.problem) progress(`${box.name}: ${written.problem}`);
  progress(`${box.name}: ${result} in ${seconds.toFixed(1)} s${problem ? `: ${problem}` : ''}`);
  return { ...base(box), result, startedAt, endedAt: new Date().toISOString(), seconds, problem, log: written.path, ...(report === undefined ? {} : { report }) };
}

async function skip(box: RunnableBox, backup: RunnableBox, backupResult: BoxResult, logDir: string): Promise<BoxResult> {
  const problem = `not touched: the pair's backup ${backup.name} goes first and did not pass (${backupResult.result})`;
  const log = new BoxLog(logDir, box.name);
  log.write(`box ${box.name}: ${problem}`);
  const written = await log.close();
  return { ...base(box), result: 'skipped', startedAt: null, endedAt: null, seconds: 0, problem, log: written.path };
}

/** The exit code for the whole run: 0 only when every box passed; 70 when a job hit a bug. */
export function inventoryExitCode(s: InventorySummary): number {
  if (s.passed) return 0;
  return s.boxes.some((b) => b.result === 'error') ? 70 : 1;
}

const TABLE_PROBLEM_CHARS = 100;

/** The table printed at the end: one row per box in inventory order, then the counts. */
export function formatInventorySummary(s: InventorySummary): string {
  const header = ['BOX', 'NODE', 'TRANSPORT', 'RESULT', 'SECONDS', 'FIRST PROBLEM'];
  const rows = s.boxes.map((b) => {
    const problem = b.problem === null ? '-' : b.problem.length > TABLE_PROBLEM_CHARS ? `${b.problem.slice(0, TABLE_PROBLEM_CHARS - 3)}...` : b.problem;
    return [b.name, b.node ?? '-', oneLine(b.transport), b.result, b.seconds.toFixed(1), problem];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : c === 4 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ');
  const count = (k: BoxResultKind) => s.boxes.filter((b) => b.result === k).length;
  const counts = (['passed', 'failed', 'skipped', 'error'] as const).filter((k) => k === 'passed' || count(k) > 0).map((k) => `${count(k)} ${k}`);
  const verdict = `${s.boxes.length} box${s.boxes.length === 1 ? '' : 'es'}: ${counts.join(', ')}`;
  return [line(header), ...rows.map(line), verdict].join('\n') + '\n';
}

/**
 * A job that works through the box's BoxShell: opens it (serial or SSH, as the box's target says), runs
 * `work`, and closes it whatever happened.
 */
export function overBoxShell<B extends RunnableBox>(
  work: (shell: BoxShell, box: B, ctx: JobContext) => Promise<JobOutcome>,
  open: (target: BoxTarget, log: (line: string) => void) => Promise<BoxShell> = openBoxShell,
): InventoryJob<B> {
  return async (box, ctx) => {
    const shell = await open(box.target, ctx.log);
    try {
      return await work(shell, box, ctx);
    } finally {
      await shell.close().catch((err: unknown) => ctx.log(`closing the connection failed: ${(err as Error)?.message ?? String(err)}`));
    }
  };
}
