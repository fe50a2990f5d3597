/**
 * What one node's obsbuild-owned files should be, from the site file: the files `verify` compares the box
 * with and `apply` writes. The same renderers as the image build (lenny dialect, as the box runs), so a
 * freshly installed box matches without an apply.
 */
import { createHash } from 'node:crypto';
import { fileBytes, mergeFiles, type GeneratedFile } from '../contracts/generated-file.js';
import type { AppliedFile } from '../contracts/applied-record.js';
import type { BaseFiles } from '../contracts/base-files.js';
import { SHADOW_PATH } from '../contracts/box-paths.js';
import type { LoadedSite } from '../site/load.js';
import type { NodeRole } from '../site/model.js';
import { pickNode } from '../site/nodes.js';
import { renderConfigTree } from '../lvs/render.js';
import { authorizedKeysFiles, chooseRootHash, replaceRootHash } from '../image/shadow.js';
import { canonicalJson } from '../image/manifest.js';
import { localtimeFile, timezoneNameFile } from '../image/timezone.js';
import { isTzif } from '../inputs/zoneinfo.js';
import { siteFiles } from '../image/site-files.js';
import { syslogFiles } from '../image/syslog.js';
import { sha256Hex } from '../util/hash.js';

export interface DesiredNode {
  role: 'single' | NodeRole;
  hostname: string;
  /** Regular files only, sorted by path; directories the build makes (e.g. /root/.ssh) are not listed. */
  files: GeneratedFile[];
  /** Which of `files` are the site's own (files:): apply writes them and restarts nothing for them. */
  ownPaths?: readonly string[];
  /**
   * The site's own symlinks (files:), sorted by path: verify compares where they point, apply makes them.
   * (Its directories are the image's; the files in them are compared.)
   */
  links?: readonly GeneratedFile[];
}

/**
 * The node's files, from the site and the box's own base files. /etc/shadow is only in the list when the site
 * sets a root hash and the box's current shadow is given: the box's other lines (system users, password
 * ages) are kept, as the build keeps the rootfs's, and only root's hash field is the site's. Likewise
 * /etc/localtime is only listed when the box's file of the site's zone is given (base.zoneinfo), and the
 * remote-syslog file only when the box's dpkg answer is given (which syslog daemon it runs), with its
 * /etc/syslog.conf when that is sysklogd.
 */
export function desiredNode(loaded: LoadedSite, node: NodeRole | undefined, base: BaseFiles = {}): DesiredNode {
  const boxShadow = base.shadow;
  const site = loaded.site;
  const picked = pickNode(site, node);
  const hash = chooseRootHash(loaded);
  const shadow: GeneratedFile[] =
    hash !== null && boxShadow !== undefined
      ? [{ path: SHADOW_PATH, content: replaceRootHash(boxShadow, hash), mode: 0o640, uid: 0, gid: 42 }]
      : [];
  // /etc/localtime follows the box's own tzdata (as its tzdata postinst would copy it); without a zone file
  // on the box there is nothing to copy, and the time zone check says so
  const zone = site.timezone;
  const timezone: GeneratedFile[] =
    zone === null ? [] : [timezoneNameFile(zone), ...(base.zoneinfo && isTzif(base.zoneinfo) ? [localtimeFile(base.zoneinfo)] : [])];
  const files = mergeFiles(
    renderConfigTree(site, { node, dialect: 'lenny' }),
    authorizedKeysFiles(site.root.authorized_keys),
    shadow,
    timezone,
    syslogFiles(loaded, base, 'the box'),
  ).filter(
    (f) => (f.type ?? 'file') === 'file',
  );
  // The site's own files (files:), regular ones only; their owners are resolved when the box's account files
  // are given (verify compares them, apply writes them).
  const accounts = base.passwd !== undefined || base.group !== undefined ? { passwd: base.passwd, group: base.group, whose: "the box's" } : null;
  const all = siteFiles(loaded, accounts, files);
  const own = all.filter((f) => f.type === 'file');
  return {
    role: site.lvs.vrrp ? picked.role : 'single',
    hostname: picked.hostname,
    files: mergeFiles(own, files),
    ownPaths: own.map((f) => f.path),
    links: all.filter((f) => f.type === 'symlink'),
  };
}


/** path + sha256 of each desired file, as the applied record lists them. */
export function appliedFiles(desired: DesiredNode): AppliedFile[] {
  return desired.files.map((f) => ({ path: f.path, sha256: sha256Hex(fileBytes(f)) }));
}

/** The applied config's id: same node, same site file and same bytes give the same id. */
export function appliedConfigId(desired: DesiredNode, siteSha256: string): string {
  const body = canonicalJson({ node: { role: desired.role, hostname: desired.hostname }, site: siteSha256, files: appliedFiles(desired) });
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}
