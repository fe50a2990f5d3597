/**
 * What each real server needs so the director's traffic works, as files an administrator copies over and a
 * short README: NAT real servers route replies through the director (default gateway = its inside
 * address); DR real servers accept the virtual address on lo:0 as /32 without answering ARP for it (or
 * with an iptables REDIRECT, as in scenarios 003/004 of docs/scenarios.md); TUN real servers decapsulate on tunl0.
 */
import type { GeneratedFile } from '../contracts/generated-file.js';
import type { Site, VirtualServer } from '../site/model.js';
import { siteNodes } from '../site/nodes.js';
import { parseCidr } from '../site/ipv4.js';
import { connectedInterface } from './addresses.js';
import { interfacesWord } from '../site/grammar/interfaces.js';
import { shellWord } from '../site/grammar/shell-word.js';

export interface RealServerBundle {
  address: string;
  files: GeneratedFile[];
}

interface Service {
  vs: VirtualServer;
  port: number;
}

export function realServerBundles(site: Site): RealServerBundle[] {
  const byAddress = new Map<string, Service[]>();
  for (const vs of site.lvs.virtual_servers) {
    for (const rs of vs.real_servers) {
      const list = byAddress.get(rs.address) ?? [];
      list.push({ vs, port: rs.port });
      byAddress.set(rs.address, list);
    }
  }
  return [...byAddress.entries()].map(([address, services]) => ({ address, files: bundleFor(site, address, services) }));
}

/** The address NAT real servers must use as their default gateway. */
export function natGateway(site: Site, rsAddress: string): string | undefined {
  if (site.lvs.vrrp) return site.lvs.vrrp.inside_address ?? undefined;
  const hit = connectedInterface(rsAddress, site.network.interfaces);
  return hit ? parseCidr(site.network.interfaces[hit[0]].address)!.address : undefined;
}

const text = (path: string, content: string, mode = 0o644): GeneratedFile => ({ path, content, mode });

function bundleFor(site: Site, address: string, services: Service[]): GeneratedFile[] {
  const readme: string[] = [
    `Real server ${address}: settings for the load balancer ${directorNames(site)}`,
    `(written by obsbuild realserver from the site file; apply them on ${address}, not on the director).`,
    '',
    'Services this host serves:',
    ...services.map(({ vs, port }) => `  ${vs.name}: ${vs.protocol.toUpperCase()} ${vs.address}:${vs.port} -> ${address}:${port} (${vs.forwarding.toUpperCase()}, ${vs.check.type === 'none' ? 'no health check' : `${vs.check.type.toUpperCase()} health check on ${address}`})`),
    '',
  ];
  const files: GeneratedFile[] = [];
  const nat = services.filter((s) => s.vs.forwarding === 'nat');
  const direct = services.filter((s) => s.vs.forwarding !== 'nat');
  if (nat.length > 0) {
    const gw = natGateway(site, address);
    readme.push(
      'NAT: the director rewrites the destination and must see the replies, so this host\'s default',
      `gateway must be the director's inside address${gw ? `, ${gw}` : ' (lvs.vrrp.inside_address is not set: see `obsbuild lint`)'}.`,
      '  - add the line in nat-gateway.interfaces to this host\'s stanza in /etc/network/interfaces',
      '    (replace any other "gateway" line), then: ifdown eth0; ifup eth0',
      '  - check: ip route | grep default',
      '  - for its own outbound traffic (updates, DNS) the director does not masquerade; plan that separately.',
      '',
    );
    files.push(text('/nat-gateway.interfaces', `    gateway ${interfacesWord(gw ?? 'DIRECTOR-INSIDE-ADDRESS', 'the gateway', '/nat-gateway.interfaces')}\n`));
  }
  const drVips = [...new Set(direct.filter((s) => s.vs.forwarding === 'dr').map((s) => s.vs.address))];
  const tunVips = [...new Set(direct.filter((s) => s.vs.forwarding === 'tun').map((s) => s.vs.address))];
  if (drVips.length > 0) {
    readme.push(
      'DR: packets arrive still addressed to the virtual address, so this host must accept it without',
      'answering ARP for it (otherwise clients and routers learn this host\'s MAC for the virtual address).',
      'Either (A), the usual way:',
      '  - append lo-vip.interfaces to /etc/network/interfaces, then: ifup lo:0',
      '  - append arp.sysctl.conf to /etc/sysctl.conf, then: sysctl -p',
      'or (B), without touching lo: run iptables-redirect.sh at boot (e.g. as a post-up line of eth0)',
      '  and keep the ARP settings of arp.sysctl.conf; the service must listen on 0.0.0.0.',
      'The default gateway stays your normal router (not the director); the service must listen on the',
      `virtual address (A) and on ${address} (health checks connect to ${address}).`,
      '',
    );
    files.push(
      text('/lo-vip.interfaces', drVips.map((vip, i) => `auto lo:${i}\niface lo:${i} inet static\n    address ${interfacesWord(vip, 'the virtual address', '/lo-vip.interfaces')}\n    netmask 255.255.255.255\n`).join('')),
      text('/iptables-redirect.sh', redirectScript(direct.filter((s) => s.vs.forwarding === 'dr')), 0o755),
    );
  }
  if (tunVips.length > 0) {
    readme.push(
      'TUN: packets arrive IP-in-IP encapsulated; load the ipip module and put the virtual address on tunl0:',
      '  - append ipip-tunl0.interfaces to /etc/network/interfaces and "ipip" to /etc/modules',
      '  - append arp.sysctl.conf to /etc/sysctl.conf (it also relaxes rp_filter on tunl0), then: sysctl -p',
      '  - replies leave with the virtual address as source: check the path MTU and any upstream filters.',
      '',
    );
    files.push(
      text('/ipip-tunl0.interfaces', tunVips.map((vip, i) => `auto tunl0${i ? `:${i}` : ''}\niface tunl0${i ? `:${i}` : ''} inet static\n    address ${interfacesWord(vip, 'the virtual address', '/ipip-tunl0.interfaces')}\n    netmask 255.255.255.255\n`).join('')),
    );
  }
  if (drVips.length + tunVips.length > 0) {
    const lines = [
      '# Do not answer ARP for the virtual address(es) held on lo/tunl0 (LVS DR/TUN real server).',
      '# The kernel uses the larger of "all" and the interface value.',
      'net.ipv4.conf.all.arp_ignore = 1',
      'net.ipv4.conf.all.arp_announce = 2',
      'net.ipv4.conf.eth0.arp_ignore = 1',
      'net.ipv4.conf.eth0.arp_announce = 2',
      'net.ipv4.conf.lo.arp_ignore = 1',
      'net.ipv4.conf.lo.arp_announce = 2',
    ];
    if (tunVips.length > 0) lines.push('net.ipv4.conf.tunl0.rp_filter = 0', 'net.ipv4.conf.all.rp_filter = 0');
    files.push(text('/arp.sysctl.conf', lines.join('\n') + '\n'));
  }
  files.unshift(text('/README', readme.join('\n')));
  return files;
}

function directorNames(site: Site): string {
  return siteNodes(site).map((n) => n.hostname).join(' / ');
}

function redirectScript(services: Service[]): string {
  const rules = [...new Set(services.map(({ vs }) => `iptables -t nat -A PREROUTING -p ${vs.protocol} -d ${shellWord('/iptables-redirect.sh', vs.address, 'the virtual address')} --dport ${vs.port} -j REDIRECT`))];
  return ['#!/bin/sh', '# Accept the virtual address without holding it: redirect it to this host.', 'set -e', ...rules, ''].join('\n');
}
