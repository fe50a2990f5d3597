/**
 * The box's own base files (contracts/base-files.ts) day two renders the node's files from, read from the box in
 * the same batch as the node's files: /etc/shadow, /etc/passwd and /etc/group, the file of the site's zone, and
 * for `syslog:` dpkg's answer for the syslog daemons (the same stanza format as the rootfs's status, so the
 * build's choice is made again the same way) with /etc/syslog.conf. verify and apply both read them here.
 */
import { BASE_FILE_PATHS, type BaseFiles } from '../contracts/base-files.js';
import { LOCALTIME_PATH, SYSLOG_CONF_PATH, zoneinfoPath } from '../contracts/box-paths.js';
import { chooseSyslogDaemon, SYSLOG_FILE_PATHS, SYSLOG_PROBE } from '../image/syslog.js';
import type { Site } from '../site/model.js';
import { UserError } from '../util/errors.js';

type BoxReading = ReadonlyMap<string, { bytes: Buffer; truncated: boolean } | null>;

/**
 * What to read and what to ask before the base is known: paths for the file read (the base files, and the node's
 * files that exist only once the base is known: /etc/localtime, the syslog file), commands for the batch.
 */
export function boxBaseReads(site: Site): { paths: string[]; commands: string[] } {
  return {
    paths: [
      BASE_FILE_PATHS.shadow,
      BASE_FILE_PATHS.passwd,
      BASE_FILE_PATHS.group,
      ...(site.timezone === null ? [] : [zoneinfoPath(site.timezone), LOCALTIME_PATH]),
      ...(site.syslog ? SYSLOG_FILE_PATHS : []),
    ],
    commands: site.syslog ? [SYSLOG_PROBE] : [],
  };
}

/**
 * The base files from what was read; `run` answers the commands of boxBaseReads. A file missing on the box, or
 * too big to have been sent whole, is left out (the renderers then leave out what needs it, and verify reports
 * a shadow it could not read); sysklogd's configuration is refused instead, as obsbuild's block would replace
 * the rest of it.
 */
export async function boxBase(site: Site, box: BoxReading, run: (command: string) => Promise<string>, who = 'the box'): Promise<BaseFiles> {
  const text = (path: string): string | undefined => {
    const f = box.get(path);
    if (f?.truncated && path === SYSLOG_CONF_PATH) {
      throw new UserError(`${who}: ${path} is bigger than can be read`, { code: 'box-failed' });
    }
    return f && !f.truncated ? f.bytes.toString('utf8') : undefined;
  };
  const zone = site.timezone === null ? undefined : box.get(zoneinfoPath(site.timezone));
  const base: BaseFiles = {
    shadow: text(BASE_FILE_PATHS.shadow),
    passwd: text(BASE_FILE_PATHS.passwd),
    group: text(BASE_FILE_PATHS.group),
    zoneinfo: zone && !zone.truncated ? zone.bytes : undefined,
  };
  if (!site.syslog) return base;
  const syslogConf = text(SYSLOG_CONF_PATH);
  const dpkgStatus = await run(SYSLOG_PROBE);
  chooseSyslogDaemon(dpkgStatus, who); // a box with no syslog daemon is refused here, naming it
  return { ...base, dpkgStatus, syslogConf };
}
