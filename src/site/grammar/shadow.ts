/**
 * A field of /etc/shadow: fields are separated by `:` and entries by newlines, so a password hash with
 * either would add fields or a whole account. crypt(3) hashes are printable ASCII.
 */
import { firstRefused, guarded, isPrintableAscii, named, type Problem } from './value.js';
import { SHADOW_PATH } from '../../contracts/box-paths.js';


export function shadowFieldProblem(value: string): Problem {
  if (value === '') return 'is empty, which lets anyone log in as root without a password';
  const bad = firstRefused(value, (ch) => isPrintableAscii(ch) && ch !== ':');
  if (bad === undefined) return undefined;
  return `contains ${named(bad)}; an /etc/shadow field is printable ASCII without ":" (a crypt hash never has one)`;
}

export function shadowField(value: string, what: string): string {
  return guarded(SHADOW_PATH, what, value, shadowFieldProblem(value));
}
