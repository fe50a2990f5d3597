/**
 * One word of keepalived.conf. keepalived 1.1.15 splits a line on whitespace, reads `{` and `}` as block
 * tokens, starts a comment at `!` or `#`, and makes every `"` a word of its own (it has no real quoting),
 * so any of these inside a value reshapes the file: a `}` in auth_pass closes the vrrp_instance. 2.x
 * agrees on all of them except that it reads `!` and `#` inside a word literally.
 */
import { firstRefused, guarded, isPrintableAscii, isWhitespace, named, type Problem } from './value.js';
import { KEEPALIVED_CONF_PATH } from '../../contracts/box-paths.js';


/** 1.1.15 reads lines into a 1024-byte buffer (MAXBUF); a word must leave room for its keyword. */
export const MAX_KEEPALIVED_TOKEN = 900;

const SPECIAL: Record<string, string> = {
  '{': 'opens a block',
  '}': 'closes a block',
  '"': 'is a word of its own (1.1.15 has no quoting)',
  '!': 'starts a comment',
  '#': 'starts a comment',
};

/**
 * The characters that cut a value wherever they stand: whitespace splits it, `"` is a word of its own, `!`
 * and `#` start a comment. The site schema refuses these in auth_pass when the file is loaded; the braces
 * and what is not printable ASCII are left to lint and the renderer (keepalivedTokenProblem).
 */
export function cutsKeepalivedWord(ch: string): boolean {
  return isWhitespace(ch) || ch === '"' || ch === '!' || ch === '#';
}

export function keepalivedTokenProblem(value: string): Problem {
  if (value === '') return 'is empty; keepalived.conf needs a word here';
  if (value.length > MAX_KEEPALIVED_TOKEN) return `is ${value.length} characters; keepalived 1.1.15 reads at most 1024 bytes a line, so keep it under ${MAX_KEEPALIVED_TOKEN}`;
  const bad = firstRefused(value, (ch) => isPrintableAscii(ch) && !(ch in SPECIAL));
  if (bad === undefined) return undefined;
  const why = SPECIAL[bad] ?? (isWhitespace(bad) ? 'splits the value into two words' : 'is not plain printable ASCII');
  return `contains ${named(bad)}, which ${why} in keepalived.conf; use printable ASCII without whitespace, { } " ! or #`;
}

/** The renderer's guard: `value` as one keepalived.conf word, or a thrown error. */
export function keepalivedToken(value: string, what: string): string {
  return guarded(KEEPALIVED_CONF_PATH, what, value, keepalivedTokenProblem(value));
}
