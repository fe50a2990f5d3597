/**
 * What the per-format grammar modules share: a problem is a short phrase ("contains "}", which ...") or
 * undefined, so lint can put it after a site key and a renderer after the file it refuses to write.
 */
import { UserError } from '../../util/errors.js';

/** Why a value cannot be written into a file of some format, or undefined when it can. */
export type Problem = string | undefined;

/** A value as a message shows it: quoted, control characters escaped, long values cut. */
export function shown(value: string): string {
  const cut = value.length > 60 ? `${value.slice(0, 60)}...` : value;
  return JSON.stringify(cut);
}

/** A character as a message names it: printable ones quoted, others by code point. */
export function named(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (ch === ' ') return 'a space';
  if (ch === '\t') return 'a tab';
  if (ch === '\n') return 'a newline';
  if (ch === '\r') return 'a carriage return';
  if (code < 0x20 || code === 0x7f) return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code > 0x7e) return `the non-ASCII character ${JSON.stringify(ch)}`;
  return JSON.stringify(ch);
}

/** The first character of `value` that `ok` refuses, if any (one pass, no backtracking). */
export function firstRefused(value: string, ok: (ch: string) => boolean): string | undefined {
  for (const ch of value) if (!ok(ch)) return ch;
  return undefined;
}

/** Whitespace as JavaScript's `\s` and `trim()` know it (Unicode spaces and line breaks included). */
export function isWhitespace(ch: string): boolean {
  return ch.trim() === '';
}

/** Printable ASCII without the space: what a word of a line-based configuration file may hold at most. */
export function isPrintableAscii(ch: string): boolean {
  const code = ch.codePointAt(0)!;
  return code > 0x20 && code < 0x7f;
}

/**
 * The renderers' last-line guard: returns `value`, or throws when it would break `file`. Lint reports the
 * same problem with the site file's line first, so this only fires for a site that skipped lint.
 */
export function guarded(file: string, what: string, value: string, problem: Problem): string {
  if (problem !== undefined) throw new UserError(`${file}: refusing to write ${what} ${shown(value)}: it ${problem}`, { code: 'site-invalid' });
  return value;
}
