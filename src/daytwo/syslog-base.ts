/**
 * What day two reads from the box for the remote-syslog file: dpkg's answer for the syslog daemons (the same
 * stanza format as the rootfs's status, so the build's choice is made again the same way) and the box's
 * /etc/syslog.conf (sysklogd's forwarding block is added to the box's own file). Nothing without `syslog:`.
 */
import type { BaseFiles } from '../contracts/base-files.js';
import { SYSLOG_CONF_PATH } from '../contracts/box-paths.js';
import { chooseSyslogDaemon, SYSLOG_FILE_PATHS, SYSLOG_PROBE } from '../image/syslog.js';
import type { Site } from '../site/model.js';
import { UserError } from '../util/errors.js';

/** What to ask and read before the daemon is known: dpkg, and both places a rule may be (compared once known). */
export function syslogReads(site: Site): { commands: string[]; paths: string[] } {
  return site.syslog ? { commands: [SYSLOG_PROBE], paths: [...SYSLOG_FILE_PATHS] } : { commands: [], paths: [] };
}

/** The base files the syslog renderer needs, from the box; `run` gives a command's output. */
export async function syslogBase(
  site: Site,
  run: (command: string) => Promise<string>,
  box: ReadonlyMap<string, { bytes: Buffer; truncated: boolean } | null>,
  who = 'the box',
): Promise<BaseFiles> {
  if (!site.syslog) return {};
  const conf = box.get(SYSLOG_CONF_PATH) ?? null;
  if (conf?.truncated) throw new UserError(`${who}: ${SYSLOG_CONF_PATH} is bigger than can be read`, { code: 'box-failed' });
  const dpkgStatus = await run(SYSLOG_PROBE);
  chooseSyslogDaemon(dpkgStatus, who); // a box with no syslog daemon is refused here, named
  return { dpkgStatus, syslogConf: conf ? conf.bytes.toString('utf8') : undefined };
}
