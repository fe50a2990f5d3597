/**
 * One word of a generated shell script or argv line: notify.sh, /etc/default/ipvsadm (sourced by the
 * init script), iptables-redirect.sh, the installer, and /etc/ipvsadm.rules (ipvsadm -R splits lines on
 * whitespace like a shell). Only characters no shell gives a meaning to, in or out of double quotes, so
 * a value can never end a quote, expand a variable, run a command or start a new line.
 */
import { firstRefused, guarded, named, type Problem } from './value.js';

const SAFE = /^[A-Za-z0-9_.,:/@%+=-]$/;

export function shellWordProblem(value: string): Problem {
  if (value === '') return 'is empty; a shell word needs at least one character';
  const bad = firstRefused(value, (ch) => SAFE.test(ch));
  if (bad === undefined) return undefined;
  return `contains ${named(bad)}, which a shell script would not take literally; use letters, digits and _ . , : / @ % + = -`;
}

/** The renderer's guard: `value` as one literal word of `file`, or a thrown error. */
export function shellWord(file: string, value: string, what: string): string {
  return guarded(file, what, value, shellWordProblem(value));
}
