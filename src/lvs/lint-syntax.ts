/**
 * Every site string that lands in a generated file, checked against the grammar of each file it lands in
 * (src/site/grammar/), so a value that would break a file or add lines to it is a lint error at its own
 * line. The renderers check the same grammars again before writing. Addresses are dotted quads by the
 * schema and need no check here; numbers and enums cannot carry text.
 *
 * Site string -> files:
 *   hostname, lvs.vrrp.nodes.*.hostname -> /etc/hostname, /etc/hosts, keepalived.conf (router_id),
 *     notify.sh (pair with notify)
 *   interface names, lvs.vrrp.interface -> /etc/network/interfaces, keepalived.conf, /etc/default/ipvsadm
 *   lvs.vrrp.auth_pass, lvs.virtual_servers[].name and check.path -> keepalived.conf
 *   network.sysctl keys and values -> /etc/sysctl.conf
 *   root.password_hash -> /etc/shadow; root.authorized_keys[] -> /root/.ssh/authorized_keys
 *   install.cf_device -> the stick's msf_init.sh
 *   packages.* reach no configuration file (they pick .debs; the manifest is JSON).
 */
import type { SitePath } from '../site/load.js';
import type { Site } from '../site/model.js';
import { siteNodes } from '../site/nodes.js';
import { keyName, interfacesPath, type Report } from './lint-report.js';
import { shown, type Problem } from '../site/grammar/value.js';
import { keepalivedTokenProblem } from '../site/grammar/keepalived-token.js';
import { shellWordProblem } from '../site/grammar/shell-word.js';
import { sysctlSettingProblem } from '../site/grammar/sysctl-conf.js';
import { interfaceNameProblem } from '../site/grammar/interfaces.js';
import { hostNameProblem } from '../site/grammar/hosts.js';
import { shadowFieldProblem } from '../site/grammar/shadow.js';
import { authorizedKeyProblem } from '../site/grammar/authorized-keys.js';

/** A grammar and the rule its findings carry. */
interface Grammar {
  rule: string;
  problem: (value: string) => Problem;
}

const KEEPALIVED: Grammar = { rule: 'keepalived-syntax', problem: keepalivedTokenProblem };
const SHELL: Grammar = { rule: 'shell-syntax', problem: shellWordProblem };
const HOST_NAME: Grammar = { rule: 'hosts-syntax', problem: hostNameProblem };
const INTERFACE_NAME: Grammar = { rule: 'interfaces-syntax', problem: interfaceNameProblem };
const SHADOW: Grammar = { rule: 'shadow-syntax', problem: shadowFieldProblem };
const AUTHORIZED_KEY: Grammar = { rule: 'authorized-keys-syntax', problem: authorizedKeyProblem };

interface Field {
  path: SitePath;
  value: string;
  /** Every grammar the value must satisfy; only the first one it breaks is reported. */
  grammars: Grammar[];
}

export function siteStringFields(site: Site): Field[] {
  const keepalived = site.lvs.manager === 'keepalived' ? [KEEPALIVED] : [];
  const vrrp = site.lvs.vrrp;
  const fields: Field[] = [];
  if (vrrp) {
    for (const role of ['master', 'backup'] as const) {
      const notify = vrrp.notify ? [SHELL] : [];
      fields.push({ path: ['lvs', 'vrrp', 'nodes', role, 'hostname'], value: vrrp.nodes[role].hostname, grammars: [HOST_NAME, ...keepalived, ...notify] });
    }
    fields.push({ path: ['lvs', 'vrrp', 'interface'], value: vrrp.interface, grammars: [INTERFACE_NAME, ...keepalived, SHELL] });
    fields.push({ path: ['lvs', 'vrrp', 'auth_pass'], value: vrrp.auth_pass, grammars: [KEEPALIVED] });
  } else {
    fields.push({ path: ['hostname'], value: site.hostname, grammars: [HOST_NAME, ...keepalived] });
  }
  for (const node of siteNodes(site)) {
    for (const name of Object.keys(node.interfaces)) {
      fields.push({ path: interfacesPath(site, node, name), value: name, grammars: [INTERFACE_NAME, ...keepalived, SHELL] });
    }
  }
  site.lvs.virtual_servers.forEach((vs, i) => {
    fields.push({ path: ['lvs', 'virtual_servers', i, 'name'], value: vs.name, grammars: keepalived });
    if (vs.check.type === 'http') fields.push({ path: ['lvs', 'virtual_servers', i, 'check', 'path'], value: vs.check.path, grammars: keepalived });
  });
  if (site.root.password_hash !== null) fields.push({ path: ['root', 'password_hash'], value: site.root.password_hash, grammars: [SHADOW] });
  site.root.authorized_keys.forEach((key, i) => fields.push({ path: ['root', 'authorized_keys', i], value: key, grammars: [AUTHORIZED_KEY] }));
  fields.push({ path: ['install', 'cf_device'], value: site.install.cf_device, grammars: [SHELL] });
  return fields;
}

export function checkFileSyntax(site: Site, report: Report): void {
  for (const { path, value, grammars } of siteStringFields(site)) {
    for (const g of grammars) {
      const problem = g.problem(value);
      if (problem === undefined) continue;
      report('error', g.rule, path, `${keyName(path)} ${shown(value)} ${problem}`);
      break;
    }
  }
  for (const [key, value] of Object.entries(site.network.sysctl)) {
    const found = sysctlSettingProblem(key, value);
    if (!found) continue;
    const what = found.part === 'key' ? `network.sysctl key ${shown(key)}` : `network.sysctl.${key} ${shown(value)}`;
    report('error', 'sysctl-syntax', ['network', 'sysctl', key], `${what} ${found.problem}`);
  }
}
