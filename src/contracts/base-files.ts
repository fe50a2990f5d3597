/**
 * The base system's own files that some of obsbuild's files are made from: /etc/shadow (only root's hash is
 * the site's), /etc/passwd and /etc/group (owners given by name), sysklogd's /etc/syslog.conf (a forwarding
 * rule is added to the operator's file). At build time they come from the rootfs tarball; on day two from the
 * box itself, so that both give the same bytes for an unchanged box.
 */
import { SHADOW_PATH } from './box-paths.js';

export interface BaseFiles {
  shadow?: string;
  passwd?: string;
  group?: string;
  syslogConf?: string;
}

/** Where each base file is on the box (and, without the leading "/", in the rootfs tarball). */
export const BASE_FILE_PATHS: Readonly<Record<keyof BaseFiles, string>> = {
  shadow: SHADOW_PATH,
  passwd: '/etc/passwd',
  group: '/etc/group',
  syslogConf: '/etc/syslog.conf',
};
