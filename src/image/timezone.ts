/**
 * The site's `timezone:` on the box: /etc/timezone names the zone and /etc/localtime is a copy of its file from
 * the base system's own tzdata, as lenny's tzdata postinst makes them (a copy, not a symlink, so the zone
 * holds without /usr mounted). At build time the zone file comes from the rootfs tarball; on day two from
 * the box (desired.ts).
 */
import { LOCALTIME_PATH, TIMEZONE_PATH } from '../contracts/box-paths.js';
import type { GeneratedFile } from '../contracts/generated-file.js';
import type { RootfsReport } from '../inputs/rootfs.js';
import type { LoadedSite } from '../site/load.js';
import { UserError, located } from '../util/errors.js';

/** /etc/timezone: the zone's name on one line, as tzdata writes it. */
export function timezoneNameFile(zone: string): GeneratedFile {
  return { path: TIMEZONE_PATH, content: `${zone}\n`, mode: 0o644, uid: 0, gid: 0 };
}

/** /etc/localtime: the zone file's bytes, a regular file. */
export function localtimeFile(zoneFile: Buffer): GeneratedFile {
  return { path: LOCALTIME_PATH, content: zoneFile, mode: 0o644, uid: 0, gid: 0 };
}

/**
 * Both files for the image, from the zone file the rootfs pass found; nothing when the site sets no zone.
 * A zone the rootfs's tzdata lacks, or whose file is not a zone file, is the site's error.
 */
export function rootfsTimezoneFiles(loaded: LoadedSite, rootfs: Pick<RootfsReport, 'zoneinfo'>, rootfsLabel: string): GeneratedFile[] {
  const zone = loaded.site.timezone;
  if (zone === null) return [];
  const found = rootfs.zoneinfo;
  // the inputs step asks the rootfs pass for the site's zone; anything else is a bug
  if (!found || found.zone !== zone) throw new Error(`the rootfs pass did not look for time zone ${zone}`);
  if ('problem' in found) {
    throw new UserError(located(loaded.file, loaded.lineOf(['timezone']), `timezone ${zone} cannot be used with ${rootfsLabel}: ${found.problem}`), {
      code: 'site-invalid',
    });
  }
  return [timezoneNameFile(zone), localtimeFile(found.bytes)];
}
