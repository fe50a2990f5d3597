import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { UserError } from '../util/errors.js';

/**
 * Whether an archive's Release file is what the archive signed: its detached signature (Release.gpg) checked
 * by gpgv against keyrings. Debian's own keys by default, the removed ones included: lenny's archive key
 * expired long ago, and archive.debian.org still serves lenny signed with it. A signature by a key that has
 * expired since is accepted (and said so); a bad signature, or one by a key not in the keyrings, is not.
 * With the Release file trusted, its checksums vouch for the index, and the index's for each .deb.
 */

export const DEBIAN_KEYRINGS = ['/usr/share/keyrings/debian-archive-keyring.gpg', '/usr/share/keyrings/debian-archive-removed-keys.gpg'];

export interface SignatureVerdict {
  /** the signing key's user id, as gpgv names it */
  signer: string;
  fingerprint: string;
  /** the key has expired since it signed (normal for an archived release) */
  keyExpired: boolean;
}

export type GpgvOutcome =
  | { kind: 'good'; verdict: SignatureVerdict }
  | { kind: 'bad'; signer: string }
  | { kind: 'unknown-key'; keyId: string }
  | { kind: 'revoked'; signer: string }
  | { kind: 'none' };

/** gpgv's machine-readable status lines (`--status-fd`), see GnuPG's doc/DETAILS. */
export function parseGpgvStatus(status: string): GpgvOutcome {
  const lines = status.split('\n').map((l) => l.replace(/^\[GNUPG:\] /, '').trim());
  const find = (word: string) => lines.find((l) => l.startsWith(`${word} `))?.slice(word.length + 1);
  const userId = (rest: string | undefined) => rest?.split(' ').slice(1).join(' ') ?? '';
  const bad = find('BADSIG');
  if (bad !== undefined) return { kind: 'bad', signer: userId(bad) };
  const revoked = find('REVKEYSIG');
  if (revoked !== undefined) return { kind: 'revoked', signer: userId(revoked) };
  const noKey = find('NO_PUBKEY') ?? find('ERRSIG');
  if (noKey !== undefined) return { kind: 'unknown-key', keyId: noKey.split(' ')[0] };
  const good = find('GOODSIG');
  const expiredKey = find('EXPKEYSIG');
  const valid = find('VALIDSIG');
  if ((good !== undefined || expiredKey !== undefined) && valid !== undefined) {
    return { kind: 'good', verdict: { signer: userId(good ?? expiredKey), fingerprint: valid.split(' ')[0], keyExpired: good === undefined } };
  }
  return { kind: 'none' };
}

/** Check `signature` (detached) over `file` with gpgv; `label` names the file in messages (its URL). */
export async function verifyDetachedSignature(file: string, signature: string, keyrings: string[], label: string): Promise<SignatureVerdict> {
  const present = keyrings.filter((k) => existsSync(k));
  if (present.length === 0) {
    throw new UserError(`${label}: no keyring to check its signature with (${keyrings.join(', ')} missing): install debian-archive-keyring or pass --keyring FILE`, { code: 'tool-failed' });
  }
  const r = await execa('gpgv', ['--status-fd', '1', ...present.flatMap((k) => ['--keyring', k]), signature, file], { reject: false });
  if (r.code === 'ENOENT') {
    throw new UserError(`${label}: gpgv not found, so its signature cannot be checked: install it (apt-get install gpgv) or pass --allow-unsigned`, { code: 'tool-failed' });
  }
  const outcome = parseGpgvStatus(String(r.stdout));
  switch (outcome.kind) {
    case 'good':
      return outcome.verdict;
    case 'bad':
      throw new UserError(`${label}: BAD signature from "${outcome.signer}": the file was changed after it was signed; nothing from this mirror is used`, { code: 'mirror-failed' });
    case 'revoked':
      throw new UserError(`${label}: signed by a revoked key ("${outcome.signer}"); nothing from this mirror is used`, { code: 'mirror-failed' });
    case 'unknown-key':
      throw new UserError(`${label}: signed by key ${outcome.keyId}, which is not in ${present.join(', ')}: pass --keyring FILE with the archive's key (or --allow-unsigned)`, { code: 'mirror-failed' });
    default: {
      const why = String(r.stderr).trim().split('\n').pop() ?? '';
      throw new UserError(`${label}: no valid signature in ${signature}${why ? ` (gpgv: ${why})` : ''}`, { code: 'mirror-failed' });
    }
  }
}
