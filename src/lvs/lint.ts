/**
 * Topology and dialect rules for a site (docs/reference/keepalived-lenny.md §11). Each finding says what
 * to change. Errors stop `render` and `image`; warnings are printed and the build goes on.
 */
import type { Finding } from '../contracts/finding.js';
import type { LoadedSite, SitePath } from '../site/load.js';
import type { Site, VirtualServer } from '../site/model.js';
import { siteNodes, type NodeView } from '../site/nodes.js';
import { inSubnet, parseCidr, subnetOf } from '../site/ipv4.js';
import { located, UserError } from '../util/errors.js';
import { connectedInterface, interfaceCidrs, virtualAddressList } from './addresses.js';
import { describeSubnets, interfacesPath, type Report } from './lint-report.js';
import { checkFileSyntax } from './lint-syntax.js';
import { checkAddressSanity } from './lint-addresses.js';
import { checkServiceHosts } from './lint-services.js';

/** keepalived 1.1.15 keeps at most this many addresses in one virtual_ipaddress block (VRRP_MAX_VIP). */
export const MAX_VIPS_PER_INSTANCE = 20;
export const OBS600_INTERFACES = ['eth0', 'eth1'];

export function lintSite(loaded: LoadedSite): Finding[] {
  const findings: Finding[] = [];
  const report: Report = (severity, rule, path, message) => findings.push({ severity, rule, line: loaded.lineOf(path), message });
  const site = loaded.site;
  checkRoot(site, report);
  for (const node of siteNodes(site)) checkNodeNetwork(site, node, report);
  checkVirtualServers(site, report);
  if (site.lvs.vrrp) checkVrrp(site, report);
  if (site.lvs.manager === 'ipvsadm') checkIpvsadmManager(site, report);
  checkSysctlForwarding(site, report);
  checkAddressSanity(site, report);
  checkFileSyntax(site, report);
  checkServiceHosts(site, report);
  // The same problem seen from several real servers or both nodes is one finding.
  const unique = [...new Map(findings.map((f) => [`${f.rule}|${f.line}|${f.message}`, f])).values()];
  return unique.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** `file:line: error: message [rule]`, one line per finding. */
export function formatFinding(file: string, f: Finding): string {
  return located(file, f.line, `${f.severity}: ${f.message} [${f.rule}]`);
}

function checkRoot(site: Site, report: Report): void {
  if (site.root.password_hash) return;
  if (site.root.allow_default_password) {
    report('warning', 'root-password', ['root', 'allow_default_password'], 'root keeps the well-known password root/root; set root.password_hash before the box goes into service');
  } else {
    report('error', 'root-password', ['root'], 'root would keep the default password root/root: set root.password_hash (e.g. `openssl passwd -1`), or allow_default_password: true for a lab box');
  }
}

function checkNodeNetwork(site: Site, node: NodeView, report: Report): void {
  const names = Object.keys(node.interfaces);
  const who = node.role === 'single' ? site.hostname : `${node.role} node ${node.hostname}`;
  if (names.length === 0) {
    report('error', 'interfaces', interfacesPath(site, node), `${who} has no interfaces: give it eth0 (client side) and, for NAT, eth1 (real-server side) with address/prefix`);
    return;
  }
  if (site.board === 'obs600') {
    for (const name of names.filter((n) => !OBS600_INTERFACES.includes(n))) {
      report('error', 'board-interfaces', interfacesPath(site, node, name), `the OpenBlockS 600 has only eth0 and eth1; rename interface "${name}"`);
    }
  }
  const cidrs = interfaceCidrs(node.interfaces);
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = i + 1; j < cidrs.length; j++) {
      const [a, ca] = cidrs[i];
      const [b, cb] = cidrs[j];
      if (inSubnet(ca.address, cb) || inSubnet(cb.address, ca)) {
        report('error', 'overlapping-interfaces', interfacesPath(site, node, b), `${who}: ${a} (${subnetOf(ca)}) and ${b} (${subnetOf(cb)}) overlap; each interface needs its own subnet`);
      }
    }
  }
  const gw = site.network.gateway;
  if (gw && !connectedInterface(gw, node.interfaces)) {
    report('error', 'gateway-subnet', ['network', 'gateway'], `gateway ${gw} is not in a subnet of ${who} (${describeSubnets(node)}); use a router on one of them`);
  }
}

function checkVirtualServers(site: Site, report: Report): void {
  const seen = new Map<string, number>();
  site.lvs.virtual_servers.forEach((vs, i) => {
    const at = (...rest: SitePath): SitePath => ['lvs', 'virtual_servers', i, ...rest];
    const key = `${vs.protocol}/${vs.address}:${vs.port}`;
    if (seen.has(key)) {
      report('error', 'duplicate-virtual-server', at('address'), `virtual server ${vs.protocol} ${vs.address}:${vs.port} is already defined as lvs.virtual_servers[${seen.get(key)}]; merge their real servers into one entry`);
    } else {
      seen.set(key, i);
    }
    const seenRs = new Map<string, number>();
    vs.real_servers.forEach((rs, j) => {
      const k = `${rs.address}:${rs.port}`;
      if (seenRs.has(k)) report('error', 'duplicate-real-server', at('real_servers', j), `real server ${k} is listed twice in ${vs.name}; remove one`);
      else seenRs.set(k, j);
    });
    if (vs.real_servers.every((rs) => rs.weight === 0)) {
      report('warning', 'zero-weight', at('real_servers'), `every real server of ${vs.name} has weight 0, so the service gets no traffic; give at least one a weight of 1 or more`);
    }
    if (vs.check.type !== 'none' && vs.protocol === 'udp') {
      report('error', 'check-protocol', at('check', 'type'), `${vs.name} is a UDP service but check.type is ${vs.check.type} (a TCP check); use check: { type: none } or a TCP service`);
    }
    for (const node of siteNodes(site)) checkForwarding(site, node, vs, i, report);
  });
}

function checkForwarding(site: Site, node: NodeView, vs: VirtualServer, i: number, report: Report): void {
  const at = (...rest: SitePath): SitePath => ['lvs', 'virtual_servers', i, ...rest];
  const who = node.role === 'single' ? site.hostname : node.hostname;
  const vipIf = connectedInterface(vs.address, node.interfaces);
  if (!vipIf) {
    report('error', 'vip-subnet', at('address'), `virtual address ${vs.address} (${vs.name}) is not in a subnet of ${who} (${describeSubnets(node)}); it must belong to the client-side subnet, e.g. eth0's`);
    return;
  }
  for (const [name, cfg] of Object.entries(node.interfaces)) {
    if (parseCidr(cfg.address)?.address === vs.address) {
      report('error', 'vip-is-interface-address', at('address'), `virtual address ${vs.address} is also ${who}'s ${name} address; pick a free address in ${subnetOf(vipIf[1])}`);
    }
  }
  vs.real_servers.forEach((rs, j) => {
    const rsIf = connectedInterface(rs.address, node.interfaces);
    if (vs.forwarding === 'nat') {
      if (!rsIf) {
        report('error', 'nat-real-server-subnet', at('real_servers', j, 'address'), `NAT real server ${rs.address} is not in a directly connected subnet of ${who} (${describeSubnets(node)}); its replies must come back through the director, so put it on the real-server side subnet (eth1)`);
      } else if (rsIf[0] === vipIf[0]) {
        report('error', 'nat-vip-subnet', at('address'), `NAT virtual address ${vs.address} is in the same subnet (${subnetOf(vipIf[1])}) as its real servers; replies would bypass the director: put the virtual address on the client side and the real servers on the other interface`);
      }
    } else {
      if (rs.port !== vs.port) {
        report('error', 'dr-port', at('real_servers', j, 'port'), `${vs.forwarding.toUpperCase()} cannot change ports: real server ${rs.address} port ${rs.port} must equal the virtual port ${vs.port}`);
      }
      if (vs.forwarding === 'dr' && !rsIf) {
        report('error', 'dr-segment', at('real_servers', j, 'address'), `DR real server ${rs.address} must share a segment with ${who} (${describeSubnets(node)}); DR forwards by MAC address. Use tun to reach other networks`);
      }
    }
  });
  if (vs.forwarding === 'nat' && !site.network.ip_forward) {
    report('error', 'nat-ip-forward', ['network', 'ip_forward'], `NAT (${vs.name}) needs the director to forward packets: set network.ip_forward: true`);
  }
}

/**
 * network.sysctl is written after net.ipv4.ip_forward and `sysctl -p` applies lines in order, so a key
 * there that turns forwarding off wins over network.ip_forward: a NAT director then drops every reply.
 */
function checkSysctlForwarding(site: Site, report: Report): void {
  const nat = site.lvs.virtual_servers.find((vs) => vs.forwarding === 'nat');
  if (!nat) return;
  const names = new Set(siteNodes(site).flatMap((n) => Object.keys(n.interfaces)));
  for (const [key, value] of Object.entries(site.network.sysctl)) {
    const m = /^net\.ipv4\.(?:ip_forward|conf\.([^.]+)\.forwarding)$/.exec(key);
    if (!m || (m[1] !== undefined && m[1] !== 'all' && !names.has(m[1]))) continue;
    if (/^[1-9][0-9]*$/.test(value.trim())) continue;
    report('error', 'sysctl-ip-forward', ['network', 'sysctl', key], `network.sysctl sets ${key} = ${JSON.stringify(value)}, which ${/^0+$/.test(value.trim()) ? 'turns packet forwarding off' : 'is not a number the kernel reads as on'} (sysctl.conf applies it after network.ip_forward); NAT (${nat.name}) needs forwarding: remove the key or set it to 1`);
  }
}

function checkVrrp(site: Site, report: Report): void {
  const vrrp = site.lvs.vrrp!;
  const at = (...rest: SitePath): SitePath => ['lvs', 'vrrp', ...rest];
  if (site.lvs.manager !== 'keepalived') {
    report('error', 'vrrp-manager', ['lvs', 'manager'], 'an HA pair (lvs.vrrp) needs manager: keepalived; ipvsadm alone cannot fail over');
  }
  if (vrrp.virtual_router_id < 1 || vrrp.virtual_router_id > 255) {
    report('error', 'vrrp-vrid', at('virtual_router_id'), `virtual_router_id ${vrrp.virtual_router_id} is out of range: use 1-255, unique on this network segment`);
  }
  const { master, backup } = vrrp.nodes;
  for (const role of ['master', 'backup'] as const) {
    const p = vrrp.nodes[role].priority;
    if (p < 1 || p > 254) {
      report('error', 'vrrp-priority', at('nodes', role, 'priority'), `priority ${p} of the ${role} is out of range: use 1-254 (255 marks the address owner and cannot fail back), e.g. master 100, backup 50`);
    }
  }
  if (master.priority === backup.priority) {
    report('warning', 'vrrp-priority-equal', at('nodes', 'backup', 'priority'), `master and backup both have priority ${master.priority}: the node with the higher IP address wins an election; give the master about 50 more${vrrp.nopreempt ? '' : ', or use nopreempt'}`);
  } else if (master.priority < backup.priority) {
    report('warning', 'vrrp-priority-order', at('nodes', 'backup', 'priority'), `the backup's priority (${backup.priority}) is higher than the master's (${master.priority}); the backup will take the addresses. Swap them`);
  }
  if (vrrp.nopreempt) {
    for (const role of ['master', 'backup'] as const) {
      if (vrrp.nodes[role].state === 'MASTER') {
        report('error', 'vrrp-nopreempt-state', at('nodes', role, 'state'), `nopreempt needs state BACKUP on both nodes, but the ${role} has state MASTER (keepalived then preempts anyway): remove state or set BACKUP`);
      }
    }
  }
  const vips = virtualAddressList(site);
  if (vips.length > MAX_VIPS_PER_INSTANCE) {
    report('error', 'vrrp-vip-count', ['lvs', 'virtual_servers'], `${vips.length} virtual addresses, but keepalived 1.1.15 keeps at most ${MAX_VIPS_PER_INSTANCE} per VRRP instance and drops the rest; use fewer addresses`);
  }
  const nodes = siteNodes(site);
  for (const node of nodes) {
    if (!(vrrp.interface in node.interfaces)) {
      report('error', 'vrrp-interface', at('interface'), `VRRP interface ${vrrp.interface} is not an interface of ${node.hostname}; use one of ${Object.keys(node.interfaces).join(', ') || '(none)'}`);
    }
  }
  if (master.hostname === backup.hostname) {
    report('error', 'vrrp-node-hostnames', at('nodes', 'backup', 'hostname'), `master and backup are both called ${master.hostname}; give each node its own hostname`);
  }
  const [m, b] = nodes;
  for (const [name, cfg] of Object.entries(m.interfaces)) {
    const other = b.interfaces[name];
    if (!other) continue;
    const cm = parseCidr(cfg.address);
    const cb = parseCidr(other.address);
    if (!cm || !cb) continue;
    if (cm.address === cb.address) {
      report('error', 'vrrp-node-addresses', interfacesPath(site, b, name), `master and backup both use ${cm.address} on ${name}; give each node its own address (set interfaces under lvs.vrrp.nodes)`);
    } else if (subnetOf(cm) !== subnetOf(cb)) {
      report('error', 'vrrp-node-subnets', interfacesPath(site, b, name), `${name} is in ${subnetOf(cm)} on the master but ${subnetOf(cb)} on the backup; the pair must share each segment`);
    }
  }
  const hasNat = site.lvs.virtual_servers.some((vs) => vs.forwarding === 'nat');
  if (hasNat) {
    if (!vrrp.inside_address) {
      report('error', 'nat-pair-gateway', at(), 'NAT behind a pair: the real servers\' gateway must move with the master; set lvs.vrrp.inside_address to a free address on the real-server subnet and use it as their gateway');
    } else {
      const natRs = site.lvs.virtual_servers.filter((vs) => vs.forwarding === 'nat').flatMap((vs) => vs.real_servers);
      const inside = connectedInterface(vrrp.inside_address, m.interfaces);
      if (!inside || natRs.some((rs) => !inSubnet(rs.address, inside[1]))) {
        report('error', 'nat-pair-gateway', at('inside_address'), `inside_address ${vrrp.inside_address} must be in the real servers' subnet so they can use it as their gateway`);
      }
    }
  }
}

function checkIpvsadmManager(site: Site, report: Report): void {
  site.lvs.virtual_servers.forEach((vs, i) => {
    if (vs.sorry_server) {
      report('error', 'ipvsadm-sorry-server', ['lvs', 'virtual_servers', i, 'sorry_server'], `${vs.name}: a sorry server needs health checks; use manager: keepalived or remove sorry_server`);
    }
    const what = vs.check.type === 'none' ? 'has no health checks' : `ignores check.type ${vs.check.type}`;
    report('warning', 'ipvsadm-no-checks', ['lvs', 'manager'], `manager ipvsadm ${what} (${vs.name}): a dead real server stays in rotation; use manager: keepalived to drop it automatically`);
  });
}

export function hasErrors(findings: Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/**
 * For commands that build from a site (render, realserver, image): prints every finding through `print`
 * and throws when there are errors, so nothing gets built from a site that lint rejects.
 */
export function lintOrThrow(loaded: LoadedSite, print: (line: string) => void): Finding[] {
  const findings = lintSite(loaded);
  for (const f of findings) print(formatFinding(loaded.file, f));
  const errors = findings.filter((f) => f.severity === 'error').length;
  if (errors > 0) {
    throw new UserError(`${loaded.file}: ${errors} lint error${errors === 1 ? '' : 's'} (listed above); nothing was written`, { code: 'site-invalid' });
  }
  return findings;
}
