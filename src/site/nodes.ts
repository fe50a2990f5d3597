/**
 * The boxes a site describes: one `single` director, or the `master` and `backup` of an HA pair, each with
 * its own hostname and interface addresses.
 */
import type { InterfaceConfig, NodeRole, Site } from './model.js';
import { UserError } from '../util/errors.js';

export interface NodeView {
  role: 'single' | NodeRole;
  hostname: string;
  interfaces: Record<string, InterfaceConfig>;
}

export function siteNodes(site: Site): NodeView[] {
  const vrrp = site.lvs.vrrp;
  if (!vrrp) return [{ role: 'single', hostname: site.hostname, interfaces: site.network.interfaces }];
  return (['master', 'backup'] as const).map((role) => ({
    role,
    hostname: vrrp.nodes[role].hostname,
    // loadSite already merged network.interfaces in; merge again for sites built in code.
    interfaces: { ...site.network.interfaces, ...vrrp.nodes[role].interfaces },
  }));
}

/** The one node to render: `node` picks a pair member; a single director takes no node. */
export function pickNode(site: Site, node: NodeRole | undefined): NodeView {
  const nodes = siteNodes(site);
  if (!site.lvs.vrrp) {
    if (node) throw new UserError(`--node ${node} is only for an HA pair (this site has no lvs.vrrp)`, { code: 'usage' });
    return nodes[0];
  }
  if (!node) throw new UserError('this site is an HA pair: choose --node master or --node backup', { code: 'usage' });
  return nodes.find((n) => n.role === node)!;
}
