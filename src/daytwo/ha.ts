/**
 * The floating addresses of an HA pair (the virtual server addresses and vrrp.inside_address): which of
 * them one node holds, from its `ip -o -4 addr show`, and whether exactly one node of the pair holds them.
 */
import type { CheckResult } from '../console/checks.js';
import { parseIpAddr } from '../console/box-output.js';
import type { Site } from '../site/model.js';

export interface HaHolding {
  role: 'master' | 'backup';
  hostname: string;
  /** Floating addresses on one of this node's interfaces. */
  holds: string[];
  /** Floating addresses it does not have. */
  lacks: string[];
}

/** The addresses VRRP moves between the nodes; empty for a single director. */
export function floatingAddresses(site: Site): string[] {
  const vrrp = site.lvs.vrrp;
  if (!vrrp) return [];
  const all = site.lvs.virtual_servers.map((v) => v.address);
  if (vrrp.inside_address) all.push(vrrp.inside_address.split('/')[0]);
  return [...new Set(all)];
}

/** Which floating addresses the node whose `ip -o -4 addr show` output this is holds. */
export function haHolding(site: Site, node: { role: 'master' | 'backup'; hostname: string }, ipAddrOutput: string): HaHolding {
  const have = new Set(parseIpAddr(ipAddrOutput).map((a) => a.address.split('/')[0]));
  const floating = floatingAddresses(site);
  return { role: node.role, hostname: node.hostname, holds: floating.filter((a) => have.has(a)), lacks: floating.filter((a) => !have.has(a)) };
}

const ONE_NODE = 'floating addresses held all or not at all';

/** One node alone: it holds all floating addresses (active) or none (standby); a part of them is a fault. */
export function haNodeCheck(h: HaHolding, command: string, output: string): CheckResult {
  const base = { name: ONE_NODE, command, exitCode: 0, output };
  if (h.holds.length + h.lacks.length === 0) return { ...base, status: 'skip', evidence: 'the site has no floating addresses' };
  if (h.lacks.length === 0) return { ...base, status: 'pass', evidence: `${h.hostname} (${h.role}) holds ${h.holds.join(', ')}: it is the active director` };
  if (h.holds.length === 0) return { ...base, status: 'pass', evidence: `${h.hostname} (${h.role}) holds none of ${h.lacks.join(', ')}: standby, the peer should hold them` };
  return { ...base, status: 'fail', evidence: `${h.hostname} (${h.role}) holds ${h.holds.join(', ')} but not ${h.lacks.join(', ')}: the addresses are split` };
}

export const HA_PAIR_CHECK = 'exactly one node holds the floating addresses';

/** Both nodes of a pair (from their verify reports): exactly one holds every floating address, the other none. */
export function verifyHaPair(reports: readonly { ha?: HaHolding | null }[]): CheckResult {
  const base = { name: HA_PAIR_CHECK, command: null, exitCode: null, output: '' };
  const nodes = reports.map((r) => r.ha).filter((h): h is HaHolding => !!h);
  if (nodes.length !== 2 || nodes[0].role === nodes[1].role) {
    return { ...base, status: 'skip', evidence: `needs the reports of the master and the backup, got ${nodes.map((n) => n.role).join(' and ') || 'none'}` };
  }
  const floating = [...new Set(nodes.flatMap((n) => [...n.holds, ...n.lacks]))];
  const problems: string[] = [];
  for (const a of floating) {
    const holders = nodes.filter((n) => n.holds.includes(a)).map((n) => n.hostname);
    if (holders.length === 0) problems.push(`${a} is on neither node`);
    else if (holders.length === 2) problems.push(`${a} is on both nodes (${holders.join(', ')}): split brain`);
  }
  const active = nodes.filter((n) => n.holds.length > 0);
  if (problems.length === 0 && active.length !== 1) problems.push(`the addresses are spread over ${active.map((n) => n.hostname).join(' and ')}`);
  if (problems.length) return { ...base, status: 'fail', evidence: problems.join('; ') };
  const a = active[0];
  return { ...base, status: 'pass', evidence: `${a.hostname} (${a.role}) holds ${a.holds.join(', ')}; ${nodes.find((n) => n !== a)!.hostname} holds none` };
}
