/**
 * The base system's own files that some of obsbuild's files are made from: /etc/shadow (only root's hash is
 * the site's), /etc/passwd and /etc/group (owners given by name), sysklogd's /etc/syslog.conf (a forwarding
 * rule is added to the operator's file), the site's zone file (/etc/localtime is a copy of it). At build time
 * they come from the rootfs tarball; on day two from the box itself, so that both give the same bytes for an
 * unchanged box.
 */
import { SHADOW_PATH } from './box-paths.js';

export interface BaseFiles {
  shadow?: string;
  passwd?: string;
  group?: string;
  syslogConf?: string;
  /** The file of the site's time zone, zoneinfoPath(site.timezone): /etc/localtime is a copy of it. */
  zoneinfo?: Buffer;
}

/**
 * Where each base file is on the box (and, without the leading "/", in the rootfs tarball); the zone file's
 * path depends on the site (zoneinfoPath).
 */
export const BASE_FILE_PATHS: Readonly<Record<Exclude<keyof BaseFiles, 'zoneinfo'>, string>> = {
  shadow: SHADOW_PATH,
  passwd: '/etc/passwd',
  group: '/etc/group',
  syslogConf: '/etc/syslog.conf',
};
