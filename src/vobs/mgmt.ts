import { siteNodes } from '../site/nodes.js';
import type { Site } from '../site/model.js';
import { intToIp, networkInt, parseCidr, subnetOf } from '../site/ipv4.js';
import { UserError } from '../util/errors.js';
import { trafficPlan } from './traffic.js';

/**
 * The admin's path into a virtual board: QEMU user networking on eth0's wire, as a LAN host would reach the
 * box on its client-side address. QEMU's side of it needs two addresses of its own in eth0's subnet (its
 * "host" address, which the forwarded connections come from; its DNS address, which it answers ARP for; the
 * first address of its DHCP pool, which must differ from both), and none may be one the site or the traffic
 * test uses. They are taken from the top of the subnet down; an HA pair's boards share the wire, so each
 * board gets its own three.
 */
export interface MgmtAddresses {
  /** eth0's subnet, a.b.c.d/nn */
  net: string;
  host: string;
  dns: string;
  dhcpStart: string;
  /** the node's eth0 address: where the forward goes */
  guest: string;
}

const IPV4_IN_TEXT = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:\/\d{1,2})?$/;
/** A site file is a few kilobytes; a walk deeper than this is not one. */
const MAX_DEPTH = 16;

/** Every IPv4 address written anywhere in the site (interfaces, VIPs, real servers, gateways, ...). */
function addressesIn(value: unknown, out: Set<string>, depth = 0): void {
  if (depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    const m = IPV4_IN_TEXT.exec(value.trim());
    if (m) out.add(m[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) addressesIn(v, out, depth + 1);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) addressesIn(v, out, depth + 1);
  }
}

/** The management addresses of each board, in siteNodes order (the single director, or master then backup). */
export function mgmtAddresses(site: Site): MgmtAddresses[] {
  const taken = new Set<string>();
  addressesIn(site, taken);
  try {
    taken.add(trafficPlan(site).clientAddress); // the traffic test's client sits on the same wire
  } catch {
    // a site the traffic test does not cover (tun) has no client address to avoid
  }
  return siteNodes(site).map((node) => {
    const cidr = parseCidr(node.interfaces.eth0?.address ?? '');
    if (!cidr) throw new UserError(`${node.hostname}: eth0 has no address/prefix, so the virtual board has no SSH path`, { code: 'site-invalid' });
    const first = networkInt(cidr) + 1;
    const last = networkInt(cidr) + (2 ** (32 - cidr.prefix) - 2); // below the broadcast address
    const free: string[] = [];
    for (let n = last; n >= first && free.length < 3; n--) {
      const a = intToIp(n);
      if (!taken.has(a)) free.push(a);
    }
    if (free.length < 3) throw new UserError(`${node.hostname}: eth0's subnet ${subnetOf(cidr)} has not three free addresses for the virtual board's SSH path`, { code: 'site-invalid' });
    for (const a of free) taken.add(a);
    return { net: subnetOf(cidr), host: free[0], dns: free[1], dhcpStart: free[2], guest: cidr.address };
  });
}

