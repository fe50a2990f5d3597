/**
 * The pexpect-style layer: a rolling buffer of the text the board sent (escape sequences stripped, so a
 * prompt followed by busybox's `ESC[6n` still matches), matched against a list of patterns; the caller
 * gets the index of the pattern that matched first in the stream, or TIMEOUT. Matching is on the raw
 * stream, not on lines, because prompts have no newline. Complete lines are also emitted as 'line' events
 * for the watchers (installer markers, panics).
 *
 * Matching stays linear under a flood: the buffer is bounded, and each chunk is searched only from a short
 * look-back before the text already searched (a match is at most `maxMatchChars` long), never from the
 * start of the buffer again. Patterns must not backtrack over unbounded runs (`\S+ login` is quadratic
 * on a long run without spaces; `\S login` says the same and is linear).
 */
import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import { EscapeStripper } from './ansi.js';

export const TIMEOUT = -1;

/** The longest delay setTimeout honours (2^31-1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ExpectResult {
  /** Index into the pattern list, or TIMEOUT. */
  index: number;
  match: RegExpExecArray | null;
  /** Text between the end of the previous match and the start of this one. */
  before: string;
}

export type Pattern = RegExp | string;

interface Waiter {
  patterns: RegExp[];
  resolve(r: ExpectResult): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

/** A private global copy: exec() then starts at lastIndex, which is how a search resumes. */
function toRegExp(p: Pattern): RegExp {
  if (typeof p === 'string') return new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g');
  return new RegExp(p.source, `${p.flags.replace(/[gy]/g, '')}g`);
}

export interface ExpecterOptions {
  /** Characters kept for matching; older text is dropped (pexpect's searchwindowsize). */
  windowChars?: number;
  /** A line longer than this without a newline is emitted anyway (line noise must not grow memory). */
  maxLineChars?: number;
  /** The longest text a pattern may match; each chunk is searched from this far back. */
  maxMatchChars?: number;
  /**
   * Keep the text that falls out of the window too, up to this many characters in all, so `before` holds a
   * long command output whole; the pieces are joined once per match, so it stays linear. Past it every
   * expect() fails with a CaptureOverflow. 0 (the default): `before` is at most the window, as the console
   * needs while it follows a boot.
   */
  captureChars?: number;
}

/** More text between two matches than the Expecter's `captureChars`. */
export class CaptureOverflow extends Error {
  constructor(readonly limitChars: number) {
    super(`more than ${limitChars} characters without the expected text`);
    this.name = 'CaptureOverflow';
  }
}

export class Expecter extends EventEmitter {
  private buffer = '';
  private partialLine = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly stripper = new EscapeStripper();
  private waiter: Waiter | null = null;
  private failure: unknown = null;
  private readonly windowChars: number;
  private readonly maxLineChars: number;
  private readonly maxMatchChars: number;
  private readonly captureChars: number;
  /** Text trimmed off the front of the window since the last match (captureChars > 0 only). */
  private spill: string[] = [];
  private spillChars = 0;
  /** Buffer offset up to which the waiting patterns found nothing. */
  private searched = 0;
  /** When the last byte arrived (ms since epoch); 0 before any. */
  lastDataAt = 0;
  bytesSeen = 0;

  constructor(opts: ExpecterOptions = {}) {
    super();
    this.windowChars = opts.windowChars ?? 16384;
    this.maxLineChars = opts.maxLineChars ?? 4096;
    this.maxMatchChars = opts.maxMatchChars ?? 1024;
    this.captureChars = opts.captureChars ?? 0;
  }

  /** Feed bytes from the transport. */
  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.lastDataAt = Date.now();
    this.bytesSeen += chunk.length;
    const text = this.stripper.push(this.decoder.write(chunk));
    if (text.length === 0) return;
    this.buffer += text;
    this.splitLines(text);
    this.emit('text', text);
    this.tryMatch(); // before trimming: a chunk larger than the window may hold a marker near its start
    // Capturing, the window is trimmed only once it is twice its size: each spilled piece is then at least a
    // window long, so the string it was sliced from (which it keeps alive) is at most about twice as long.
    const capturing = this.captureChars > 0 && !this.failure;
    if (this.buffer.length > (capturing ? 2 * this.windowChars : this.windowChars)) {
      const cut = this.buffer.length - this.windowChars;
      if (capturing) {
        this.spill.push(this.buffer.slice(0, cut));
        this.spillChars += cut;
        if (this.spillChars + this.windowChars > this.captureChars) {
          this.takeSpill();
          this.fail(new CaptureOverflow(this.captureChars));
        }
      }
      this.buffer = this.buffer.slice(cut);
      this.searched = Math.max(0, this.searched - cut);
    }
  }

  private splitLines(text: string): void {
    const all = this.partialLine + text;
    let from = 0;
    let nl = -1;
    for (;;) {
      if (nl < from) nl = all.indexOf('\n', from); // a far newline is found once, not once per piece
      if (nl < 0) nl = all.length + 1;
      const end = nl - from <= this.maxLineChars ? nl : from + this.maxLineChars;
      if (end >= all.length) break;
      this.emit('line', all.slice(from, end));
      from = end === nl ? nl + 1 : end;
    }
    this.partialLine = all.slice(from);
  }

  /** The unterminated last line (e.g. a prompt), stripped. */
  get currentLine(): string {
    return this.partialLine;
  }

  /** Unconsumed text in the match buffer. */
  get pending(): string {
    return this.buffer;
  }

  /** Forget unconsumed text, e.g. before sending a command whose reply must be fresh. */
  clear(): void {
    this.takeSpill();
    this.buffer = '';
    this.searched = 0;
  }

  /**
   * Make the pending and every later expect() reject with `err` (a fault seen by a watcher: panic,
   * unexpected reboot). The first failure wins.
   */
  fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  get failed(): unknown {
    return this.failure;
  }

  expect(patterns: Pattern[], timeoutMs: number): Promise<ExpectResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error('expect() is already waiting'));
    if (!(timeoutMs <= MAX_TIMER_MS)) return Promise.reject(new RangeError(`expect() timeout ${timeoutMs} ms: at most ${MAX_TIMER_MS} ms`));
    const regs = patterns.map(toRegExp);
    this.searched = 0; // new patterns: search the whole pending text once
    return new Promise<ExpectResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.timer !== timer) return;
        this.waiter = null;
        resolve({ index: TIMEOUT, match: null, before: this.takeSpill() + this.buffer });
      }, Math.max(0, timeoutMs));
      this.waiter = { patterns: regs, resolve, reject, timer };
      this.tryMatch();
    });
  }

  /** The spilled text, joined, and forgotten. */
  private takeSpill(): string {
    if (this.spill.length === 0) return '';
    const text = this.spill.join('');
    this.spill = [];
    this.spillChars = 0;
    return text;
  }

  private tryMatch(): void {
    const w = this.waiter;
    if (!w) return;
    const from = Math.max(0, this.searched - this.maxMatchChars);
    let best: { index: number; m: RegExpExecArray } | null = null;
    for (let i = 0; i < w.patterns.length; i++) {
      const re = w.patterns[i];
      re.lastIndex = from;
      const m = re.exec(this.buffer);
      if (m && (!best || m.index < best.m.index)) best = { index: i, m };
    }
    if (!best) {
      this.searched = this.buffer.length;
      return;
    }
    this.waiter = null;
    clearTimeout(w.timer);
    const before = this.takeSpill() + this.buffer.slice(0, best.m.index);
    this.buffer = this.buffer.slice(best.m.index + best.m[0].length);
    this.searched = 0;
    w.resolve({ index: best.index, match: best.m, before });
  }
}
