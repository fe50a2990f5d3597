/**
 * Which syslog daemon the base system runs, and the remote-syslog file(s) for it: one choice for the build
 * (the rootfs's dpkg status) and for day two (the box's dpkg-query answer in the same stanza format), so a
 * freshly installed box matches its site without an apply.
 */
import type { BaseFiles } from '../contracts/base-files.js';
import type { GeneratedFile } from '../contracts/generated-file.js';
import { SYSLOG_CONF_PATH } from '../contracts/box-paths.js';
import { isInstalled, parseStatusSummary } from '../inputs/dpkgstatus.js';
import { renderRsyslogForward, renderSysklogdConf } from '../lvs/syslog.js';
import type { LoadedSite } from '../site/load.js';
import { SYSKLOGD_PORT, SYSLOG_DAEMONS, type SyslogDaemon } from '../site/services.js';
import { located, UserError } from '../util/errors.js';

/**
 * The box's side of the choice: the syslog packages' dpkg stanzas (Package, Status), as dpkg's status file
 * spells them. Prints nothing for a package dpkg has never heard of. dpkg-query is in every dpkg.
 */
export const SYSLOG_PROBE = "dpkg-query -W -f='Package: ${Package}\\nStatus: ${Status}\\n\\n' rsyslog sysklogd 2>/dev/null; true";

export interface SyslogChoice {
  daemon: SyslogDaemon;
  /** Set when the choice needs the operator's attention (a warning), e.g. both daemons installed. */
  warning: string | null;
}

/**
 * The daemon from dpkg's status. rsyslog and sysklogd conflict (both provide system-log-daemon), so both
 * installed means one was forced in; at boot both init scripts run and whichever binds /dev/log last gets the
 * local lines. obsbuild configures rsyslog then, lenny's default, and says so. `where` names the status's
 * origin (the rootfs tarball, the box).
 */
export function chooseSyslogDaemon(dpkgStatus: string, where: string): SyslogChoice {
  const installed = new Set(parseStatusSummary(dpkgStatus).filter(isInstalled).map((p) => p.package));
  const rsyslog = installed.has('rsyslog');
  const sysklogd = installed.has('sysklogd');
  if (rsyslog && sysklogd) {
    return {
      daemon: 'rsyslog',
      warning: `${where}: both rsyslog and sysklogd are installed (they conflict; one was forced in): the forwarding rule is written for rsyslog, lenny's default; remove sysklogd`,
    };
  }
  if (rsyslog) return { daemon: 'rsyslog', warning: null };
  if (sysklogd) return { daemon: 'sysklogd', warning: null };
  throw new UserError(`${where}: syslog: forwarding needs rsyslog or sysklogd, and dpkg's status shows neither installed`, { code: 'input-invalid' });
}

/**
 * The node's remote-syslog file(s): none without `syslog:` or (day two, before the box was asked) without
 * dpkg's status. `where` names the base system in errors (the rootfs tarball, the box).
 */
export function syslogFiles(loaded: LoadedSite, base: BaseFiles, where: string, onWarning: (line: string) => void = () => {}): GeneratedFile[] {
  const s = loaded.site.syslog;
  if (!s || base.dpkgStatus === undefined) return [];
  const choice = chooseSyslogDaemon(base.dpkgStatus, where);
  if (choice.warning) onWarning(choice.warning);
  const file = (path: string, content: string): GeneratedFile => ({ path, content, mode: 0o644, uid: 0, gid: 0 });
  if (choice.daemon === 'rsyslog') return [file(SYSLOG_DAEMONS.rsyslog.config, renderRsyslogForward(s))];
  if (s.port !== SYSKLOGD_PORT) {
    throw new UserError(
      located(loaded.file, loaded.lineOf(['syslog', 'port']), `syslog.port ${s.port}: ${where} runs sysklogd, which sends only to port ${SYSKLOGD_PORT}; use 514 or install rsyslog`),
      { code: 'site-invalid' },
    );
  }
  if (base.syslogConf === undefined) {
    throw new UserError(`${where}: sysklogd is installed but ${SYSLOG_CONF_PATH} is missing; the forwarding block is added to the base system's own file`, { code: 'input-invalid' });
  }
  return [file(SYSLOG_CONF_PATH, renderSysklogdConf(base.syslogConf, s))];
}

/** Both places a forwarding rule may be; day two reads them before it knows which daemon the box runs. */
export const SYSLOG_FILE_PATHS: readonly string[] = Object.values(SYSLOG_DAEMONS).map((d) => d.config);
