/**
 * The two outputs of a console run: the transcript (every byte the board sent, escape sequences kept,
 * each line stamped with the time its first byte arrived, plus what we sent and where the line was down)
 * and the JSON report (phases, checks, verdict). The transcript is streamed to `<log>.partial` and renamed
 * into place when the run ends, so a half-written file never sits under the final name.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { makeDirs } from '../util/dirs.js';
import { UsageError, UserError } from '../util/errors.js';
import { checkOutputPath } from '../util/output-path.js';
import type { FailureClass } from './faults.js';
import type { CheckResult } from './checks.js';
import type { Gap } from './transport.js';

export interface PhaseRecord {
  name: string;
  startedAt: string;
  durationMs: number | null;
  outcome: 'done' | 'failed' | 'running';
  detail?: string;
}

export interface StepRecord {
  script: 'install' | 'firstboot';
  n: number;
  total: number;
  name: string;
  startedAt: string;
  durationMs: number | null;
  outcome: 'ok' | 'failed' | 'running' | 'done';
}

export interface ConsoleReport {
  version: 1;
  port: string;
  baudRate: number;
  mode: 'follow' | 'login';
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  failure: { class: FailureClass; message: string; phase: string; lastLines: string[] } | null;
  phases: PhaseRecord[];
  steps: StepRecord[];
  reboots: number;
  gaps: { from: string; to: string; ms: number }[];
  manifestIdSeen: string | null;
  checks: CheckResult[];
  transcript: string | null;
}

/** A report `obsbuild console --json` wrote. */
export async function readConsoleReport(file: string): Promise<ConsoleReport> {
  return JSON.parse(await readFile(file, 'utf8')) as ConsoleReport;
}

/** The last N lines seen, for the failure report; bounded so an hour of chatter costs nothing. */
export class LastLines {
  private readonly lines: string[] = [];
  constructor(private readonly max = 50) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  get(): string[] {
    return [...this.lines];
  }
}

function stamp(t: number, start: number): string {
  return `${new Date(t).toISOString()} +${((t - start) / 1000).toFixed(3).padStart(8)}`;
}

/** A sink for transcript text: a file stream, or anything with write() (tests, the replay bench). */
export interface TranscriptSink {
  write(chunk: string | Buffer): unknown;
}

export class Transcript {
  private atLineStart = true;
  private readonly start: number;
  private readonly nl = Buffer.from('\n');

  constructor(
    private readonly sink: TranscriptSink,
    start = Date.now(),
  ) {
    this.start = start;
  }

  /** Bytes from the board: each line gets `ISO-time +elapsed | ` in front, the bytes go through unchanged. */
  board(chunk: Buffer, at = Date.now()): void {
    let from = 0;
    while (from < chunk.length) {
      if (this.atLineStart) {
        this.sink.write(`${stamp(at, this.start)} | `);
        this.atLineStart = false;
      }
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) {
        this.sink.write(chunk.subarray(from));
        return;
      }
      this.sink.write(chunk.subarray(from, nl + 1));
      this.atLineStart = true;
      from = nl + 1;
    }
  }

  /** A note of ours on its own line: `>>` for what we sent, `--` for events (phases, gaps). */
  note(kind: '>>' | '--', text: string, at = Date.now()): void {
    if (!this.atLineStart) this.sink.write(this.nl);
    this.sink.write(`${stamp(at, this.start)} ${kind} ${text}\n`);
    this.atLineStart = true;
  }

  gap(g: Gap): void {
    this.note('--', `[disconnected ${(g.ms / 1000).toFixed(1)} s: no bytes could be read from ${g.from.toISOString()} to ${g.to.toISOString()}]`, g.to.getTime());
  }
}

/**
 * Refuses, before the run starts, a transcript or report path that could not be written at its end
 * (a directory, a device, a path under a file, /proc...): the run may take the whole install.
 */
export async function checkOutputFiles(log: string, json: string | undefined): Promise<void> {
  await checkOutputPath(log, { argument: '--log', kind: 'file' });
  await checkOutputPath(`${log}.partial`, { argument: '--log', kind: 'file' });
  if (json === undefined) return;
  await checkOutputPath(json, { argument: '--json', kind: 'file' });
  if (resolve(json) === resolve(log)) throw new UsageError(`--json ${json}: is also the --log transcript; name two files`);
}

/** A transcript file written under `<path>.partial` while the run lasts. */
export class TranscriptFile {
  readonly stream: WriteStream;
  readonly transcript: Transcript;
  private failure: NodeJS.ErrnoException | null = null;
  private constructor(
    readonly path: string,
    start: number,
  ) {
    this.stream = createWriteStream(`${path}.partial`);
    // Without a listener a failed write would end the process; it is reported by finish() instead.
    this.stream.on('error', (err: NodeJS.ErrnoException) => (this.failure ??= err));
    this.transcript = new Transcript(this.stream, start);
  }

  static async create(path: string, start = Date.now()): Promise<TranscriptFile> {
    await makeDirs(dirname(path));
    return new TranscriptFile(path, start);
  }

  async finish(): Promise<void> {
    if (!this.failure) {
      await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    }
    if (this.failure) throw new UserError(`${this.path}.partial: cannot write the transcript: ${this.failure.code ?? this.failure.message}`);
    await rename(`${this.path}.partial`, this.path);
  }
}
