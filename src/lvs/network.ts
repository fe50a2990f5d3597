/**
 * The director's own network files: /etc/network/interfaces (as in the guide's listing 1), /etc/hostname,
 * /etc/hosts, /etc/resolv.conf and /etc/sysctl.conf (listing 2).
 */
import type { Site } from '../site/model.js';
import { siteNodes, type NodeView } from '../site/nodes.js';
import { inSubnet, netmask, parseCidr } from '../site/ipv4.js';
import { planVirtualAddresses } from './addresses.js';
import { interfaceName, interfacesWord } from '../site/grammar/interfaces.js';
import { HOSTNAME_PATH, HOSTS_PATH, INTERFACES_PATH, RESOLV_CONF_PATH } from '../contracts/box-paths.js';
import { hostName, hostsWord } from '../site/grammar/hosts.js';
import { sysctlSetting } from '../site/grammar/sysctl-conf.js';

export function renderInterfaces(site: Site, node: NodeView): string {
  const out = [
    '# Used by ifup(8) and ifdown(8). See the interfaces(5) manpage or',
    '# /usr/share/doc/ifupdown/examples for more information.',
    'auto lo',
    'iface lo inet loopback',
  ];
  // Without VRRP the virtual addresses are fixed aliases; with VRRP keepalived moves them instead.
  const aliases = site.lvs.vrrp ? [] : planVirtualAddresses(site, node.interfaces).filter((v) => v.connected);
  for (const [name, cfg] of Object.entries(node.interfaces)) {
    const cidr = parseCidr(cfg.address);
    if (!cidr) continue;
    const dev = interfaceName(name, INTERFACES_PATH);
    out.push(`auto ${dev}`, `iface ${dev} inet static`, `address ${interfacesWord(cidr.address, 'the address')}`, `netmask ${netmask(cidr.prefix)}`);
    if (site.network.gateway && inSubnet(site.network.gateway, cidr)) out.push(`gateway ${interfacesWord(site.network.gateway, 'the gateway')}`);
    for (const alias of aliases.filter((a) => a.dev === name)) {
      const label = interfacesWord(alias.label, 'the alias');
      out.push(`auto ${label}`, `iface ${label} inet static`, `address ${interfacesWord(alias.address, 'the address')}`, `netmask ${netmask(alias.prefix)}`);
    }
  }
  return out.join('\n') + '\n';
}

export function renderHostname(node: NodeView): string {
  return `${hostName(HOSTNAME_PATH, node.hostname)}\n`;
}

function primaryAddress(node: NodeView): string | undefined {
  for (const cfg of Object.values(node.interfaces)) {
    const cidr = parseCidr(cfg.address);
    if (cidr) return cidr.address;
  }
  return undefined;
}

export function renderHosts(site: Site, node: NodeView): string {
  const lines = ['127.0.0.1\tlocalhost'];
  // This node first, then its peer, so the pair can reach each other by name without DNS.
  const nodes = [node, ...siteNodes(site).filter((n) => n.role !== node.role)];
  for (const n of nodes) {
    const address = primaryAddress(n);
    const name = hostName(HOSTS_PATH, n.hostname);
    lines.push(`${address ? hostsWord(HOSTS_PATH, address, 'the address') : '127.0.1.1'}\t${name}`);
  }
  return lines.join('\n') + '\n';
}

/** Empty when there are no name servers, as the guide has it (the box needs no DNS). */
export function renderResolvConf(site: Site): string {
  return site.network.nameservers.map((ns) => `nameserver ${hostsWord(RESOLV_CONF_PATH, ns, 'the name server')}\n`).join('');
}

export function renderSysctlConf(site: Site): string {
  const lines = [
    '# /etc/sysctl.conf - written by obsbuild; see sysctl.conf(5). Apply with `sysctl -p`.',
    '# Uncomment the next line to enable packet forwarding for IPv4',
    `net.ipv4.ip_forward = ${site.network.ip_forward ? 1 : 0}`,
  ];
  for (const [key, value] of Object.entries(site.network.sysctl)) lines.push(sysctlSetting(key, value));
  return lines.join('\n') + '\n';
}
