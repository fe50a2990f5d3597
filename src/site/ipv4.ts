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
  if (cidr.prefix >= 31) return false;
  const n = ipToInt(cidr.address)!;
  const host = (n & ~maskInt(cidr.prefix)) >>> 0;
  return host === 0 || host === (~maskInt(cidr.prefix) >>> 0);
}

export function lastOctet(address: string): number {
  return ipToInt(address)! & 255;
}
