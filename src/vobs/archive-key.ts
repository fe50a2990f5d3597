import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../util/run-tool.js';

/**
 * A signing key for an archive obsbuild makes itself (the virtual board's local mirror; test archives), so
 * that `obsbuild image --mirror` checks it exactly as it checks Debian's: Release.gpg by gpgv against a
 * keyring. The key lives in its own GNUPGHOME; nothing touches the user's keys.
 */
export interface ArchiveKey {
  /** the public key, for `--keyring` */
  keyring: string;
  /** write `<file>.gpg`, a detached signature over `file` */
  sign(file: string): Promise<void>;
  /** stop the gpg-agent that key generation started */
  close(): Promise<void>;
}

export async function createArchiveKey(dir: string, name: string): Promise<ArchiveKey> {
  const home = join(dir, 'gnupg');
  await rm(home, { recursive: true, force: true }); // one key per archive: a rebuilt archive gets a new one
  await mkdir(home, { recursive: true });
  await chmod(home, 0o700);
  const gpg = (args: string[], what: string) => runTool('gpg', ['--batch', '--homedir', home, ...args], { what });
  await gpg(['--passphrase', '', '--quick-gen-key', name, 'ed25519', 'sign', 'never'], 'making the archive signing key');
  const keyring = join(dir, 'archive-key.gpg');
  await runTool('sh', ['-c', 'gpg --batch --homedir "$1" --export > "$2"', 'sh', home, keyring], { what: 'exporting the archive key' });
  await writeFile(join(dir, 'README'), `${name}: the key that signs this archive's Release file (public part: archive-key.gpg).\n`);
  return {
    keyring,
    async sign(file) {
      await gpg(['--yes', '--detach-sign', '--output', `${file}.gpg`, file], `signing ${file}`);
    },
    async close() {
      await runTool('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { what: 'stopping gpg-agent' }).catch(() => undefined);
    },
  };
}
