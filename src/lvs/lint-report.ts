/**
 * What every lint module shares: the finding shape, the report callback, and how findings name a place
 * in the site file (a key path, resolved to a line by the loader) and a node's subnets.
 */
import type { Finding } from '../contracts/finding.js';
import type { SitePath } from '../site/load.js';
import type { Site } from '../site/model.js';
import type { NodeView } from '../site/nodes.js';
import { subnetOf } from '../site/ipv4.js';
import { interfaceCidrs } from './addresses.js';


export type Report = (severity: Finding['severity'], rule: string, path: SitePath, message: string) => void;

/** `lvs.virtual_servers[0].check.path`, as the loader's messages spell keys. */
export function keyName(path: SitePath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Where a node's interfaces are written in the file. */
export function interfacesPath(site: Site, node: NodeView, name?: string): SitePath {
  const base: SitePath =
    node.role !== 'single' && site.lvs.vrrp && name !== undefined && name in site.lvs.vrrp.nodes[node.role].interfaces
      ? ['lvs', 'vrrp', 'nodes', node.role, 'interfaces']
      : node.role !== 'single' && name === undefined
        ? ['lvs', 'vrrp', 'nodes', node.role]
        : ['network', 'interfaces'];
  return name === undefined ? base : [...base, name];
}

export function describeSubnets(node: NodeView): string {
  const subnets = interfaceCidrs(node.interfaces).map(([name, cidr]) => `${name} ${subnetOf(cidr)}`);
  return subnets.length ? subnets.join(', ') : 'no interfaces';
}

/** How findings name a node: the single director by the site's hostname, a pair member by its own. */
export function nodeName(site: Site, node: NodeView): string {
  return node.role === 'single' ? site.hostname : node.hostname;
}
