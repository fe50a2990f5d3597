/**
 * The pexpect-style layer: a rolling buffer of the text the board sent (escape sequences stripped, so a
 * prompt followed by busybox's `ESC[6n` still matches), matched against a list of patterns; the caller
 * gets the index of the pattern that matched first in the stream, or TIMEOUT. Matching is on the raw
 * stream, not on lines, because prompts have no newline. Complete lines are also emitted as 'line' events
 * for the watchers (installer markers, panics).
 */
import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import { EscapeStripper } from './ansi.js';

export const TIMEOUT = -1;

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

function toRegExp(p: Pattern): RegExp {
  if (typeof p === 'string') return new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  // a global or sticky flag would make exec() stateful
  return p.global || p.sticky ? new RegExp(p.source, p.flags.replace(/[gy]/g, '')) : p;
}

export interface ExpecterOptions {
  /** Characters kept for matching; older text is dropped (pexpect's searchwindowsize). */
  windowChars?: number;
  /** A line longer than this without a newline is emitted anyway (line noise must not grow memory). */
  maxLineChars?: number;
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
  /** When the last byte arrived (ms since epoch); 0 before any. */
  lastDataAt = 0;
  bytesSeen = 0;

  constructor(opts: ExpecterOptions = {}) {
    super();
    this.windowChars = opts.windowChars ?? 16384;
    this.maxLineChars = opts.maxLineChars ?? 4096;
  }

  /** Feed bytes from the transport. */
  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.lastDataAt = Date.now();
    this.bytesSeen += chunk.length;
    const text = this.stripper.push(this.decoder.write(chunk));
    if (text.length === 0) return;
    this.buffer += text;
    if (this.buffer.length > this.windowChars) this.buffer = this.buffer.slice(this.buffer.length - this.windowChars);
    this.splitLines(text);
    this.emit('text', text);
    this.tryMatch();
  }

  private splitLines(text: string): void {
    let rest = this.partialLine + text;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      this.emit('line', rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
    while (rest.length > this.maxLineChars) {
      this.emit('line', rest.slice(0, this.maxLineChars));
      rest = rest.slice(this.maxLineChars);
    }
    this.partialLine = rest;
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
    this.buffer = '';
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
    const regs = patterns.map(toRegExp);
    return new Promise<ExpectResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.timer !== timer) return;
        this.waiter = null;
        resolve({ index: TIMEOUT, match: null, before: this.buffer });
      }, Math.max(0, timeoutMs));
      this.waiter = { patterns: regs, resolve, reject, timer };
      this.tryMatch();
    });
  }

  private tryMatch(): void {
    const w = this.waiter;
    if (!w) return;
    let best: { index: number; m: RegExpExecArray } | null = null;
    for (let i = 0; i < w.patterns.length; i++) {
      const m = w.patterns[i].exec(this.buffer);
      if (m && (!best || m.index < best.m.index)) best = { index: i, m };
    }
    if (!best) return;
    this.waiter = null;
    clearTimeout(w.timer);
    const before = this.buffer.slice(0, best.m.index);
    this.buffer = this.buffer.slice(best.m.index + best.m[0].length);
    w.resolve({ index: best.index, match: best.m, before });
  }
}
