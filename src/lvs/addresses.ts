/**
 * Where each virtual address lives on a director: the interface whose subnet holds it, its prefix, and the
 * alias label (`eth0:120` for .120, as in the guide). Both the interfaces file (no VRRP) and keepalived's
 * virtual_ipaddress block (VRRP) are written from this one plan, so the two can never disagree.
 */
import type { InterfaceConfig, Site } from '../site/model.js';
import { inSubnet, lastOctet, parseCidr, type Cidr } from '../site/ipv4.js';

export interface VirtualAddress {
  address: string;
  dev: string;
  prefix: number;
  label: string;
  /** False when no interface subnet holds the address (lint reports it; rendering stays total). */
  connected: boolean;
}

export function interfaceCidrs(interfaces: Record<string, InterfaceConfig>): [string, Cidr][] {
  return Object.entries(interfaces).flatMap(([name, cfg]) => {
    const cidr = parseCidr(cfg.address);
    return cidr ? [[name, cidr] as [string, Cidr]] : [];
  });
}

/** The interface whose subnet contains `address`, if any. */
export function connectedInterface(address: string, interfaces: Record<string, InterfaceConfig>): [string, Cidr] | undefined {
  return interfaceCidrs(interfaces).find(([, cidr]) => inSubnet(address, cidr));
}

/** Distinct virtual addresses in file order: the virtual servers', then the floating inside address. */
export function virtualAddressList(site: Site): string[] {
  const list = site.lvs.virtual_servers.map((vs) => vs.address);
  if (site.lvs.vrrp?.inside_address) list.push(site.lvs.vrrp.inside_address);
  return [...new Set(list)];
}

export function planVirtualAddresses(site: Site, interfaces: Record<string, InterfaceConfig>): VirtualAddress[] {
  const fallbackDev = site.lvs.vrrp?.interface ?? Object.keys(interfaces)[0] ?? 'eth0';
  const usedLabels = new Set<string>();
  return virtualAddressList(site).map((address) => {
    const hit = connectedInterface(address, interfaces);
    const dev = hit ? hit[0] : fallbackDev;
    let n = lastOctet(address);
    while (usedLabels.has(`${dev}:${n}`)) n = (n + 1) % 1000;
    const label = `${dev}:${n}`;
    usedLabels.add(label);
    return { address, dev, prefix: hit ? hit[1].prefix : 32, label, connected: hit !== undefined };
  });
}
