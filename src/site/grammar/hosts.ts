/**
 * /etc/hostname, /etc/hosts and /etc/resolv.conf: one entry a line, whitespace-separated words, `#` starts
 * a comment. Also the one home for the box's host name, which router_id and notify.sh repeat: an RFC 1123
 * label, what hostname(1) and the resolver accept.
 */
import { firstRefused, guarded, isPrintableAscii, named, type Problem } from './value.js';

export function hostsWordProblem(value: string): Problem {
  if (value === '') return 'is empty; the file needs a word here';
  const bad = firstRefused(value, (ch) => isPrintableAscii(ch) && ch !== '#');
  if (bad === undefined) return undefined;
  return `contains ${named(bad)}, which would split the line or start a comment; use printable ASCII without whitespace or "#"`;
}

/** An RFC 1123 label in lower case: what the site schema and every renderer of the host name accept. */
export const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function hostNameProblem(name: string): Problem {
  if (HOST_NAME.test(name)) return undefined;
  return 'is not a host name: 1 to 63 lower-case letters, digits and "-", not starting or ending with "-"';
}

/** The renderer's guard for one word of `file` (an address or a host name). */
export function hostsWord(file: string, value: string, what: string): string {
  return guarded(file, what, value, hostsWordProblem(value));
}

/** The renderer's guard for the box's host name, wherever it is written. */
export function hostName(file: string, name: string): string {
  return guarded(file, 'the host name', name, hostNameProblem(name));
}
