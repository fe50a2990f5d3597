/**
 * Every generated configuration file of one director, from the site model. The image pipeline puts these
 * into the overlay; `obsbuild render` writes them under --out.
 */
import { sortFiles, type GeneratedFile } from '../contracts/generated-file.js';
import type { Dialect, NodeRole, Site } from '../site/model.js';
import { pickNode } from '../site/nodes.js';
import { renderKeepalivedConf, VRRP_INSTANCE_NAME } from './keepalived.js';
import { renderNotifyScript } from './notify.js';
import { renderHostname, renderHosts, renderInterfaces, renderResolvConf, renderSysctlConf } from './network.js';
import { renderIpvsadmDefault, renderIpvsadmRules } from './ipvsadm.js';
import { renderNtpConf } from './ntp.js';
import { ntpFlavour } from '../site/services.js';
import { HOSTNAME_PATH, HOSTS_PATH, INTERFACES_PATH, IPVSADM_DEFAULT_PATH, IPVSADM_RULES_PATH, KEEPALIVED_CONF_PATH, RESOLV_CONF_PATH, SYSCTL_CONF_PATH } from '../contracts/box-paths.js';

export interface RenderOptions {
  /** Which member of an HA pair; required for a pair, refused for a single director. */
  node?: NodeRole;
  /** keepalived.conf dialect; `lenny` (keepalived 1.1.15) is what the box runs. */
  dialect?: Dialect;
}

export function renderConfigTree(site: Site, opts: RenderOptions = {}): GeneratedFile[] {
  const node = pickNode(site, opts.node);
  const dialect = opts.dialect ?? 'lenny';
  const file = (path: string, content: string, mode = 0o644): GeneratedFile => ({ path, content, mode, uid: 0, gid: 0 });
  const files: GeneratedFile[] = [
    file(HOSTNAME_PATH, renderHostname(node)),
    file(HOSTS_PATH, renderHosts(site, node)),
    file(RESOLV_CONF_PATH, renderResolvConf(site)),
    file(INTERFACES_PATH, renderInterfaces(site, node)),
    file(SYSCTL_CONF_PATH, renderSysctlConf(site)),
    file(IPVSADM_DEFAULT_PATH, renderIpvsadmDefault(site)),
  ];
  if (site.lvs.manager === 'ipvsadm') {
    files.push(file(IPVSADM_RULES_PATH, renderIpvsadmRules(site)));
  } else {
    files.push(file(KEEPALIVED_CONF_PATH, renderKeepalivedConf(site, node, dialect)));
    if (site.lvs.vrrp?.notify) files.push({ ...renderNotifyScript(node.hostname, VRRP_INSTANCE_NAME), uid: 0, gid: 0 });
  }
  if (site.ntp) {
    const ntp = ntpFlavour(site.board);
    files.push(file(ntp.config, renderNtpConf(site.ntp, ntp.dialect)));
  }
  return sortFiles(files);
}
