/**
 * The two outputs of a console run: the transcript (every byte the board sent, escape sequences kept,
 * each line stamped with the time its first byte arrived, plus what we sent and where the line was down)
 * and the JSON report (phases, checks, verdict). The transcript is streamed to `<log>.partial` and renamed
 * into place when the run ends, so a half-written file never sits under the final name. It is capped: a
 * flood (a pty can deliver 20 MB/s, a real 115200 line 11.5 KB/s) must not fill the disk or the memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { makeDirs } from '../util/dirs.js';
import type { ErrorCode } from '../contracts/error-codes.js';
import { oneLine, UsageError, UserError } from '../util/errors.js';
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
  /** `code` is the error code of the class (see FAILURE_CODES), the same a script reads from any other failure. */
  failure: { class: FailureClass; code: ErrorCode; message: string; phase: string; lastLines: string[] } | null;
  phases: PhaseRecord[];
  steps: StepRecord[];
  reboots: number;
  gaps: { from: string; to: string; ms: number }[];
  manifestIdSeen: string | null;
  checks: CheckResult[];
  /** Where the box's SSH host keys were recorded after login (known_hosts under its hostname); null: not recorded. */
  hostKeysFile: string | null;
  transcript: string | null;
}

/**
 * One check as a person reads it: `  PASS  name: evidence`. The evidence quotes the box, so control
 * characters are shown escaped. The console's verdict and `obsbuild verify` print checks this way.
 */
export function formatCheckLine(c: CheckResult): string {
  return `  ${c.status.toUpperCase().padEnd(4)}  ${c.name}: ${oneLine(c.evidence)}`;
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

function fmtBytes(n: number): string {
  return n % 2 ** 20 === 0 ? `${n / 2 ** 20} MiB` : `${n} bytes`;
}

function stamp(t: number, start: number): string {
  return `${new Date(t).toISOString()} +${((t - start) / 1000).toFixed(3).padStart(8)}`;
}

/** A sink for transcript text: a file stream, or anything with write() (tests, the replay bench). */
export interface TranscriptSink {
  write(chunk: string | Buffer): unknown;
  /** Bytes accepted but not yet on disk (a stream's queue); when present it bounds what we queue. */
  readonly writableLength?: number;
}

/** Default cap of a transcript: at 115200 baud a board needs over 90 minutes of non-stop output to fill it. */
export const TRANSCRIPT_MAX_BYTES = 64 * 2 ** 20;
/** Past the cap our own notes (phases, verdict) still go in, up to this much more. */
const NOTES_RESERVE_BYTES = 2 ** 20;
/** Queued bytes beyond which board output is dropped rather than held in memory for a slow disk. */
const MAX_QUEUED_BYTES = 8 * 2 ** 20;

export interface TranscriptOptions {
  /** Bytes of transcript after which board output is no longer written (a note says so). */
  maxBytes?: number;
}

export class Transcript {
  private atLineStart = true;
  private readonly start: number;
  private readonly nl = Buffer.from('\n');
  private readonly maxBytes: number;
  /** Bytes handed to the sink. */
  written = 0;
  /** Board bytes not written: past the cap, or while the disk was behind. */
  droppedBytes = 0;
  private full = false;
  private behind = false;
  private droppedWhileBehind = 0;

  constructor(
    private readonly sink: TranscriptSink,
    start = Date.now(),
    opts: TranscriptOptions = {},
  ) {
    this.start = start;
    this.maxBytes = opts.maxBytes ?? TRANSCRIPT_MAX_BYTES;
  }

  /** True once the cap was reached and board output stopped being written. */
  get truncated(): boolean {
    return this.full;
  }

  private out(chunk: string | Buffer): void {
    this.sink.write(chunk);
    this.written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  }

  /** Bytes from the board: each line gets `ISO-time +elapsed | ` in front, the bytes go through unchanged. */
  board(chunk: Buffer, at = Date.now()): void {
    if (this.full) {
      this.droppedBytes += chunk.length;
      return;
    }
    if ((this.sink.writableLength ?? 0) > MAX_QUEUED_BYTES) {
      if (!this.behind) this.note('--', '[the disk is not keeping up with the board: its output is dropped until it does]', at);
      this.behind = true;
      this.droppedWhileBehind += chunk.length;
      this.droppedBytes += chunk.length;
      return;
    }
    if (this.behind) {
      this.behind = false;
      this.note('--', `[${this.droppedWhileBehind} bytes from the board were dropped while the disk caught up]`, at);
      this.droppedWhileBehind = 0;
    }
    const room = this.maxBytes - this.written;
    if (chunk.length > room) {
      this.droppedBytes += chunk.length - Math.max(0, room);
      if (room > 0) this.writeBoard(chunk.subarray(0, room), at);
      this.full = true;
      this.note('--', `[transcript cut at ${fmtBytes(this.maxBytes)}: board output from here on is not written; the last lines seen are added at the end]`, at);
      return;
    }
    this.writeBoard(chunk, at);
  }

  private writeBoard(chunk: Buffer, at: number): void {
    let from = 0;
    while (from < chunk.length) {
      if (this.atLineStart) {
        this.out(`${stamp(at, this.start)} | `);
        this.atLineStart = false;
      }
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) {
        this.out(chunk.subarray(from));
        return;
      }
      this.out(chunk.subarray(from, nl + 1));
      this.atLineStart = true;
      from = nl + 1;
    }
  }

  /** A note of ours on its own line: `>>` for what we sent, `--` for events (phases, gaps). */
  note(kind: '>>' | '--', text: string, at = Date.now()): void {
    // a flapping adapter or a chatty phase must not grow a full transcript without end either
    if (this.written > this.maxBytes + NOTES_RESERVE_BYTES) return;
    if (!this.atLineStart) this.out(this.nl);
    this.out(`${stamp(at, this.start)} ${kind} ${text}\n`);
    this.atLineStart = true;
  }

  /**
   * Closes a transcript that was cut: how much was left out, then the last lines seen (escape sequences
   * stripped), so the end of the story is in the file too. Does nothing when nothing was dropped.
   */
  epilogue(lastLines: string[], at = Date.now()): void {
    if (this.droppedBytes === 0) return;
    const why = this.full ? `the transcript was cut at ${fmtBytes(this.maxBytes)}` : 'the disk fell behind';
    // written past the notes reserve on purpose: it is bounded by the number and length of the lines
    if (!this.atLineStart) this.out(this.nl);
    this.out(`${stamp(at, this.start)} -- [${this.droppedBytes} bytes from the board are not in this file (${why}); the last ${lastLines.length} lines seen were:]\n`);
    for (const l of lastLines) this.out(`${stamp(at, this.start)} -- last | ${l}\n`);
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
export async function checkOutputFiles(log: string, json: string | undefined, inputs: readonly (string | undefined)[] = []): Promise<void> {
  await checkOutputPath(log, { argument: '--log', kind: 'file', inputs });
  await checkOutputPath(`${log}.partial`, { argument: '--log', kind: 'file', inputs });
  if (json === undefined) return;
  await checkOutputPath(json, { argument: '--json', kind: 'file', inputs });
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
    opts: TranscriptOptions,
  ) {
    this.stream = createWriteStream(`${path}.partial`);
    // Without a listener a failed write would end the process; it is reported by finish() instead.
    this.stream.on('error', (err: NodeJS.ErrnoException) => (this.failure ??= err));
    this.transcript = new Transcript(this.stream, start, opts);
  }

  static async create(path: string, start = Date.now(), opts: TranscriptOptions = {}): Promise<TranscriptFile> {
    await makeDirs(dirname(path));
    return new TranscriptFile(path, start, opts);
  }

  async finish(): Promise<void> {
    if (!this.failure) {
      await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    }
    if (this.failure) throw new UserError(`${this.path}.partial: cannot write the transcript: ${this.failure.code ?? this.failure.message}`, { code: 'output-refused', cause: this.failure });
    await rename(`${this.path}.partial`, this.path);
  }
}
