/**
 * IPv4 arithmetic for the site model: keepalived 1.1.15 reads dotted quads only (inet_ston), so the
 * site file accepts nothing else.
 */

export interface Cidr {
  address: string;
  prefix: number;
}

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The address as a 32-bit unsigned number, or undefined when it is not a plain dotted quad. */
export function ipToInt(address: string): number | undefined {
  const m = QUAD.exec(address);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    if (part.length > 1 && part.startsWith('0')) return undefined; // leading zeros read as octal by inet_aton
    const octet = Number(part);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIpv4(address: string): boolean {
  return ipToInt(address) !== undefined;
}

/** `a.b.c.d/nn` split into its parts, or undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > 32 || !isIpv4(address)) return undefined;
  return { address, prefix };
}

export function maskInt(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function netmask(prefix: number): string {
  return intToIp(maskInt(prefix));
}

/** 255.255.255.0 → 24 (the number of leading one bits). */
export function prefixOfNetmask(mask: string): number {
  const n = ipToInt(mask) ?? 0;
  let prefix = 0;
  while (prefix < 32 && (n >>> (31 - prefix)) & 1) prefix++;
  return prefix;
}

export function networkInt(cidr: Cidr): number {
  return (ipToInt(cidr.address)! & maskInt(cidr.prefix)) >>> 0;
}

/** `192.168.253.0/24` for `192.168.253.254/24`. */
export function subnetOf(cidr: Cidr): string {
  return `${intToIp(networkInt(cidr))}/${cidr.prefix}`;
}

export function inSubnet(address: string, cidr: Cidr): boolean {
  const n = ipToInt(address);
  if (n === undefined) return false;
  return ((n & maskInt(cidr.prefix)) >>> 0) === networkInt(cidr);
}

/** True for the network or broadcast address of a subnet with room for hosts (prefix < 31). */
export function isNetworkOrBroadcast(cidr: Cidr): boolean {
  return subnetEdge(cidr.address, cidr.prefix) !== undefined;
}

export function lastOctet(address: string): number {
  return ipToInt(address)! & 255;
}

/** What an address is for, by the IANA special-purpose ranges a director must never use as a host address. */
export type AddressKind = 'unicast' | 'this-network' | 'loopback' | 'multicast' | 'reserved' | 'broadcast';

const SPECIAL_RANGES: { kind: Exclude<AddressKind, 'unicast'>; cidr: Cidr }[] = [
  { kind: 'broadcast', cidr: { address: '255.255.255.255', prefix: 32 } },
  { kind: 'this-network', cidr: { address: '0.0.0.0', prefix: 8 } },
  { kind: 'loopback', cidr: { address: '127.0.0.0', prefix: 8 } },
  { kind: 'multicast', cidr: { address: '224.0.0.0', prefix: 4 } },
  { kind: 'reserved', cidr: { address: '240.0.0.0', prefix: 4 } },
];

/** The kind of a dotted quad; 'unicast' for everything a host on a segment may be. */
export function addressKind(address: string): AddressKind {
  const hit = SPECIAL_RANGES.find((r) => inSubnet(address, r.cidr));
  return hit ? hit.kind : 'unicast';
}

/** The range a special kind covers, for messages: 127.0.0.0/8 for 'loopback'. */
export function rangeOf(kind: Exclude<AddressKind, 'unicast'>): string {
  const { cidr } = SPECIAL_RANGES.find((r) => r.kind === kind)!;
  return `${cidr.address}/${cidr.prefix}`;
}

/** 'network' or 'broadcast' when `address` is that address of the subnet `prefix` cuts around it. */
export function subnetEdge(address: string, prefix: number): 'network' | 'broadcast' | undefined {
  if (prefix >= 31 || !isIpv4(address)) return undefined;
  const host = (ipToInt(address)! & ~maskInt(prefix)) >>> 0;
  if (host === 0) return 'network';
  if (host === ~maskInt(prefix) >>> 0) return 'broadcast';
  return undefined;
}
