/**
 * One line of ~/.ssh/authorized_keys. OpenSSH 5.1 (lenny) reads the file line by line into an 8192-byte
 * buffer (SSH_MAX_PUBKEY_BYTES): a newline inside a key, or a line that long, makes a second key line the
 * site never listed. Comments may hold any other text.
 */
import { guarded, named, type Problem } from './value.js';
import { AUTHORIZED_KEYS_PATH } from '../../contracts/box-paths.js';


/** Bytes of one line without its newline that sshd 5.1 reads whole. */
export const MAX_AUTHORIZED_KEY_LINE = 8190;

export function authorizedKeyProblem(line: string): Problem {
  if (line.trim() === '') return 'is empty';
  for (const ch of line) {
    const code = ch.codePointAt(0)!;
    if ((code < 0x20 && ch !== '\t') || code === 0x7f) return `contains ${named(ch)}; each key must be one line`;
  }
  const bytes = Buffer.byteLength(line.trim());
  if (bytes > MAX_AUTHORIZED_KEY_LINE) return `is ${bytes} bytes; OpenSSH 5.1 reads at most ${MAX_AUTHORIZED_KEY_LINE} a line and reads the rest as another key`;
  return undefined;
}

export function authorizedKey(line: string, what: string): string {
  return guarded(AUTHORIZED_KEYS_PATH, what, line, authorizedKeyProblem(line));
}
