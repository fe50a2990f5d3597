/**
 * The box's SSH host keys, read over the serial console after login and recorded in
 * `<out>/<hostname>/known_hosts` as `<hostname> <type> <base64>`: the host key alias form day-two commands
 * give ssh (HostKeyAlias = the node's hostname, HashKnownHosts=no), so `verify --host` and `apply --host` pin
 * the keys the first boot generated instead of trusting whatever answers first on the network. The serial
 * line is the trusted path, but its text is still untrusted input: each line must be exactly a known key type
 * and a base64 key blob that names the same type, or nothing is recorded.
 */
import { join } from 'node:path';
import { SSH_HOST_KEYS_GLOB } from '../contracts/box-paths.js';
import { writeFileAtomically } from '../util/atomic.js';
import type { CommandResult } from './shell.js';

/** Host key types OpenSSH servers hold: lenny's 5.1 has rsa and dsa, later releases ecdsa and ed25519. */
const HOST_KEY_TYPES: ReadonlySet<string> = new Set(['ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-ed25519']);
/** Decoded bytes of one key blob: a 16384-bit RSA key is about 2 KiB. */
const MAX_KEY_BLOB = 8192;
/** More key files than any sshd has. */
const MAX_HOST_KEYS = 16;
/** What `ssh -o HostKeyAlias=` accepts from obsbuild (the node's hostname). */
const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

export interface HostKey {
  type: string;
  base64: string;
}

/** One line of a `.pub` file (`type base64 [comment]`), or why it is not one; the comment is dropped. */
export function parseHostKeyLine(line: string): HostKey | string {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return 'contains a control character';
  if (line.length > MAX_KEY_BLOB * 2) return `is ${line.length} characters, longer than any host key`;
  const fields = line.trim().split(/[ \t]+/);
  if (fields.length < 2) return 'is not "type base64 [comment]"';
  const [type, base64] = fields;
  if (!HOST_KEY_TYPES.has(type)) return `key type ${JSON.stringify(type.slice(0, 40))} is not one of ${[...HOST_KEY_TYPES].join(', ')}`;
  if (!BASE64_RE.test(base64) || base64.length % 4 !== 0) return 'the key is not base64';
  const blob = Buffer.from(base64, 'base64');
  if (blob.length > MAX_KEY_BLOB) return `the key is ${blob.length} bytes, longer than any host key`;
  // An SSH public key blob starts with its own type as a length-prefixed string.
  const nameLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (nameLength !== type.length || blob.subarray(4, 4 + nameLength).toString('latin1') !== type) return `the key blob does not say ${type}`;
  return { type, base64 };
}

/** Every key in the output of `cat` over the key files; throws on the first line that is not a key. */
export function parseHostKeys(text: string): HostKey[] {
  const keys: HostKey[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const k = parseHostKeyLine(lines[i]);
    if (typeof k === 'string') throw new Error(`line ${i + 1} ${k}`);
    if (keys.length === MAX_HOST_KEYS) throw new Error(`more than ${MAX_HOST_KEYS} host keys`);
    if (!keys.some((x) => x.type === k.type && x.base64 === k.base64)) keys.push(k);
  }
  return keys;
}

/** known_hosts lines under `alias`, as ssh reads them with HostKeyAlias=alias and `ssh-keygen -F alias` finds them. */
export function knownHostsText(alias: string, keys: HostKey[]): string {
  if (!ALIAS_RE.test(alias)) throw new Error(`host name ${JSON.stringify(alias.slice(0, 80))} cannot be a host key alias`);
  return keys.map((k) => `${alias} ${k.type} ${k.base64}\n`).join('');
}

export interface HostKeysTarget {
  /** out/: the file goes to <outDir>/<hostname>/known_hosts. */
  outDir: string;
  /** The node's hostname; for an HA pair without --node both, and the one the box reports is chosen. */
  hostnames: string[];
}

/**
 * Reads the box's host keys through `run` (the console's logged-in shell) and writes the known_hosts file;
 * returns its path, or null with a note saying why nothing was recorded (no sshd, an unknown hostname, a line
 * that is not a key). Never fails the console run.
 */
export async function recordHostKeys(run: (command: string) => Promise<CommandResult>, target: HostKeysTarget, note: (line: string) => void): Promise<string | null> {
  let alias = target.hostnames.length === 1 ? target.hostnames[0] : undefined;
  if (alias === undefined) {
    const h = await run('hostname');
    const reported = h.output.trim();
    alias = target.hostnames.find((n) => n === reported);
    if (alias === undefined) {
      note(`SSH host keys not recorded: the box says its hostname is ${JSON.stringify(reported.slice(0, 64))}, not one of the site's (${target.hostnames.join(', ')})`);
      return null;
    }
  }
  // The glob stays unquoted; a box without sshd has no file and prints nothing.
  const r = await run(`for f in ${SSH_HOST_KEYS_GLOB}; do if [ -f "$f" ]; then cat "$f"; fi; done`);
  if (r.exitCode === null) {
    note('SSH host keys not recorded: reading them did not finish in time');
    return null;
  }
  let keys: HostKey[];
  try {
    keys = parseHostKeys(r.output);
  } catch (e) {
    note(`SSH host keys not recorded: ${SSH_HOST_KEYS_GLOB} on the box: ${(e as Error).message}`);
    return null;
  }
  if (keys.length === 0) {
    note(`SSH host keys not recorded: the box has none (${SSH_HOST_KEYS_GLOB}; no sshd?)`);
    return null;
  }
  const file = join(target.outDir, alias, 'known_hosts');
  try {
    await writeFileAtomically(file, knownHostsText(alias, keys), 0o644);
  } catch (e) {
    note(`SSH host keys not recorded: ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return null;
  }
  note(`recorded the box's SSH host keys (${keys.map((k) => k.type).join(', ')}) in ${file} under ${alias}`);
  return file;
}
