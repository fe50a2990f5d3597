/**
 * Address sanity: each address a site names must be one its role can have. The schema only proves they
 * are dotted quads; here a loopback interface address, a virtual address that is its subnet's broadcast
 * address, a real server or gateway that is the director itself, a name server of 0.0.0.0 and a NAT
 * sorry server the director cannot reach are errors at the line that names them. A sorry server on the
 * director itself (`sorry_server 127.0.0.1 80`, keepalived's own example) is IPVS's "local node": the
 * kernel delivers to it locally whatever the forwarding method, so it is left alone.
 */
import type { SitePath } from '../site/load.js';
import type { Site } from '../site/model.js';
import { siteNodes, type NodeView } from '../site/nodes.js';
import { addressKind, parseCidr, rangeOf, subnetEdge, subnetOf, type AddressKind } from '../site/ipv4.js';
import { connectedInterface } from './addresses.js';
import { describeSubnets, interfacesPath, nodeName, type Report } from './lint-report.js';

/** One address the site names, what it is for, and where. */
interface NamedAddress {
  /** How messages name it, address included: `virtual address 192.168.253.120 (web)`. */
  what: string;
  address: string;
  path: SitePath;
  /** May be the director itself (loopback included): IPVS serves it as a local node. */
  localNodeOk?: boolean;
}

const KIND_TEXT: Record<Exclude<AddressKind, 'unicast'>, string> = {
  'this-network': 'a "this network" address',
  loopback: 'a loopback address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  broadcast: 'the limited broadcast address',
};

function kindText(kind: Exclude<AddressKind, 'unicast'>): string {
  return `${KIND_TEXT[kind]} (${rangeOf(kind)})`;
}

/** Addresses other hosts reach or the director forwards to: virtual, floating, real, sorry, gateway. */
function hostAddresses(site: Site): NamedAddress[] {
  const out: NamedAddress[] = [];
  site.lvs.virtual_servers.forEach((vs, i) => {
    const at = (...rest: SitePath): SitePath => ['lvs', 'virtual_servers', i, ...rest];
    out.push({ what: `virtual address ${vs.address} (${vs.name})`, address: vs.address, path: at('address') });
    vs.real_servers.forEach((rs, j) => out.push({ what: `real server ${rs.address} (${vs.name})`, address: rs.address, path: at('real_servers', j, 'address') }));
    if (vs.sorry_server) out.push({ what: `sorry server ${vs.sorry_server.address} (${vs.name})`, address: vs.sorry_server.address, path: at('sorry_server', 'address'), localNodeOk: true });
  });
  const inside = site.lvs.vrrp?.inside_address;
  if (inside) out.push({ what: `floating inside address ${inside}`, address: inside, path: ['lvs', 'vrrp', 'inside_address'] });
  if (site.network.gateway) out.push({ what: `gateway ${site.network.gateway}`, address: site.network.gateway, path: ['network', 'gateway'] });
  return out;
}

/** The director's own addresses: every node's interface addresses, the virtual and the floating ones. */
function directorAddresses(site: Site): Map<string, string> {
  const own = new Map<string, string>();
  for (const node of siteNodes(site)) {
    for (const [name, cfg] of Object.entries(node.interfaces)) {
      const cidr = parseCidr(cfg.address);
      if (cidr && !own.has(cidr.address)) own.set(cidr.address, `${nodeName(site, node)}'s own ${name} address`);
    }
  }
  for (const vs of site.lvs.virtual_servers) if (!own.has(vs.address)) own.set(vs.address, `the director's virtual address for ${vs.name}`);
  const inside = site.lvs.vrrp?.inside_address;
  if (inside && !own.has(inside)) own.set(inside, "the director's floating inside address");
  return own;
}

export function checkAddressSanity(site: Site, report: Report): void {
  const nodes = siteNodes(site);
  for (const node of nodes) checkInterfaceKinds(site, node, report);
  const hosts = hostAddresses(site);
  for (const h of hosts) {
    const kind = addressKind(h.address);
    if (kind !== 'unicast' && !(kind === 'loopback' && h.localNodeOk)) report('error', 'special-address', h.path, `${h.what} is ${kindText(kind)}; use a host address on the segment`);
  }
  for (const node of nodes) checkSubnetEdges(site, node, hosts, report);
  const own = directorAddresses(site);
  site.lvs.virtual_servers.forEach((vs, i) => {
    vs.real_servers.forEach((rs, j) => {
      const mine = own.get(rs.address);
      if (mine) {
        report('error', 'real-server-is-director', ['lvs', 'virtual_servers', i, 'real_servers', j, 'address'], `real server ${rs.address} (${vs.name}) is ${mine}; a real server must be another host`);
      }
    });
  });
  const gw = site.network.gateway;
  const gwMine = gw ? own.get(gw) : undefined;
  if (gwMine) report('error', 'gateway-is-director', ['network', 'gateway'], `gateway ${gw} is ${gwMine}; the default gateway must be a router on that segment, not the box itself`);
  site.network.nameservers.forEach((ns, k) => {
    const kind = addressKind(ns);
    if (kind !== 'unicast' && kind !== 'loopback') {
      report('error', 'nameserver-address', ['network', 'nameservers', k], `name server ${ns} is ${kindText(kind)}, not a server the resolver can ask; list DNS servers by their own addresses (or none)`);
    }
  });
  for (const node of nodes) checkNatSorryServers(site, node, own, report);
}

function checkInterfaceKinds(site: Site, node: NodeView, report: Report): void {
  for (const [name, cfg] of Object.entries(node.interfaces)) {
    const cidr = parseCidr(cfg.address);
    if (!cidr) continue;
    const kind = addressKind(cidr.address);
    if (kind === 'unicast') continue;
    report('error', 'special-address', [...interfacesPath(site, node, name), 'address'], `${nodeName(site, node)}'s ${name} address ${cfg.address} is ${kindText(kind)}; give the interface its address on the segment`);
  }
}

/** A host address must not be the network or broadcast address of the director's subnet that holds it. */
function checkSubnetEdges(site: Site, node: NodeView, hosts: NamedAddress[], report: Report): void {
  for (const h of hosts) {
    const hit = connectedInterface(h.address, node.interfaces);
    if (!hit) continue;
    const edge = subnetEdge(h.address, hit[1].prefix);
    if (!edge) continue;
    report('error', 'network-broadcast-address', h.path, `${h.what} is the ${edge} address of ${nodeName(site, node)}'s ${hit[0]} subnet ${subnetOf(hit[1])}; use a host address inside it`);
  }
}

/** NAT sends the sorry server's traffic through the director like a real server's, so it must be connected. */
function checkNatSorryServers(site: Site, node: NodeView, own: Map<string, string>, report: Report): void {
  site.lvs.virtual_servers.forEach((vs, i) => {
    if (vs.forwarding !== 'nat' || !vs.sorry_server) return;
    const address = vs.sorry_server.address;
    if (addressKind(address) === 'loopback' || own.has(address)) return; // the local node
    if (connectedInterface(address, node.interfaces)) return;
    report('error', 'nat-sorry-server-subnet', ['lvs', 'virtual_servers', i, 'sorry_server', 'address'], `NAT sorry server ${address} (${vs.name}) is not in a directly connected subnet of ${nodeName(site, node)} (${describeSubnets(node)}); its replies must come back through the director, so put it on the real-server side subnet`);
  });
}
