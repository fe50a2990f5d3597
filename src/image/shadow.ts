import type { LoadedSite } from '../site/load.js';
import { UserError, located } from '../util/errors.js';
import { AUTHORIZED_KEYS_PATH, ROOT_SSH_DIR, SHADOW_PATH } from '../contracts/box-paths.js';
import type { GeneratedFile } from '../contracts/generated-file.js';
import { shadowField, shadowFieldProblem } from '../site/grammar/shadow.js';
import { authorizedKey } from '../site/grammar/authorized-keys.js';

/** Plat'Home's root/root, MD5-crypt (docs/reference/obs600.md §8). */
export const STOCK_ROOT_HASH = '$1$afC9J.v6$Dkq.k8sVRq7n0Py5eWWAp1';

/** Debian's /etc/shadow: root:shadow (gid 42 on lenny and bookworm), 0640. */
const SHADOW_MODE = 0o640;
const SHADOW_GID = 42;

/**
 * The root password hash the image gets: the site's hash, or (only with allow_default_password: true)
 * whatever the base rootfs has. A missing hash or the stock root/root hash is refused otherwise, because
 * a box on the network with root/root is the first thing anyone tries.
 */
export function chooseRootHash(loaded: LoadedSite): string | null {
  const { root } = loaded.site;
  const hash = root.password_hash;
  if (root.allow_default_password) return hash;
  if (hash === null || hash === '' || hash === STOCK_ROOT_HASH) {
    const why = hash ? 'root.password_hash is the stock root/root password' : 'root.password_hash is not set';
    throw new UserError(
      located(
        loaded.file,
        loaded.lineOf(hash ? ['root', 'password_hash'] : ['root']),
        `${why}; set a crypt hash (e.g. from \`openssl passwd -1\`) or allow_default_password: true`,
      ),
      { code: 'site-invalid' },
    );
  }
  const problem = shadowFieldProblem(hash);
  if (problem) throw new UserError(located(loaded.file, loaded.lineOf(['root', 'password_hash']), `root.password_hash ${problem}`), { code: 'site-invalid' });
  return hash;
}

/** The base /etc/shadow with root's hash (field 2) replaced; every other line is kept byte for byte. */
export function replaceRootHash(baseShadow: string, hash: string, label = SHADOW_PATH): string {
  const lines = baseShadow.split('\n');
  const index = lines.findIndex((l) => l.startsWith('root:'));
  if (index < 0) throw new UserError(`${label}: the rootfs /etc/shadow has no root entry`, { code: 'input-invalid' });
  const fields = lines[index].split(':');
  fields[1] = shadowField(hash, "root's password hash");
  lines[index] = fields.join(':');
  return lines.join('\n');
}

/** /etc/shadow for the overlay, or nothing when the base file is kept as it is. */
export function shadowFile(loaded: LoadedSite, baseShadow: string | undefined, rootfsLabel: string): GeneratedFile[] {
  const hash = chooseRootHash(loaded);
  if (hash === null) return [];
  if (baseShadow === undefined) throw new UserError(`${rootfsLabel}: the rootfs has no /etc/shadow to set the root password in`, { code: 'input-invalid' });
  return [{ path: SHADOW_PATH, content: replaceRootHash(baseShadow, hash, rootfsLabel), mode: SHADOW_MODE, uid: 0, gid: SHADOW_GID }];
}

/** /root/.ssh/authorized_keys (0600) in a 0700 directory, only when the site lists keys. */
export function authorizedKeysFiles(keys: readonly string[]): GeneratedFile[] {
  if (keys.length === 0) return [];
  return [
    { path: ROOT_SSH_DIR, content: '', mode: 0o700, uid: 0, gid: 0, type: 'dir' },
    { path: AUTHORIZED_KEYS_PATH, content: keys.map((k, i) => authorizedKey(k, `key ${i + 1}`).trim()).join('\n') + '\n', mode: 0o600, uid: 0, gid: 0 },
  ];
}
