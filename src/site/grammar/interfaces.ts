/**
 * /etc/network/interfaces as ifupdown reads it (interfaces(5)): whitespace-separated words, a `\` at the
 * end of a line joins the next line, `#` starts a comment. Also the one home for interface names, which
 * keepalived.conf, the ipvsadm defaults and debconf repeat: the kernel takes at most 15 bytes (IFNAMSIZ)
 * and no `/`, `:` (alias separator) or whitespace.
 */
import { firstRefused, guarded, isPrintableAscii, named, type Problem } from './value.js';
import { INTERFACES_PATH } from '../../contracts/box-paths.js';


export const MAX_INTERFACE_NAME = 15;

export function interfacesWordProblem(value: string): Problem {
  if (value === '') return 'is empty; /etc/network/interfaces needs a word here';
  const bad = firstRefused(value, (ch) => isPrintableAscii(ch) && ch !== '#' && ch !== '\\');
  if (bad === undefined) return undefined;
  return `contains ${named(bad)}, which ifupdown would not read as part of one word; use printable ASCII without whitespace, "#" or "\\"`;
}

export function interfaceNameProblem(name: string): Problem {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..') {
    return `is not an interface name: 1 to ${MAX_INTERFACE_NAME} letters, digits, "_", "." or "-" (aliases such as eth0:120 are made for you)`;
  }
  return undefined;
}

/** The renderer's guard for one word of an interfaces file (`file` differs for the real-server snippets). */
export function interfacesWord(value: string, what: string, file = INTERFACES_PATH): string {
  return guarded(file, what, value, interfacesWordProblem(value));
}

/** The renderer's guard for an interface name, wherever it is written. */
export function interfaceName(name: string, file: string): string {
  return guarded(file, 'the interface name', name, interfaceNameProblem(name));
}
