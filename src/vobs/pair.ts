import type { Site } from '../site/model.js';
import { freePort } from './free-port.js';
import type { GuestShell } from './guest-shell.js';
import { pollUntil } from './poll.js';
import type { BoardLink, VobsMachineSpec } from './qemu.js';
import { parseIpAddr } from '../console/box-output.js';

/**
 * An HA pair on two virtual boards: the boards' eth0s share one virtual wire and their eth1s another, joined
 * by QEMU socket links on 127.0.0.1 (no host network). The master's QEMU listens, the backup's connects, so
 * the master is started first.
 */
export type BoardWiring = Pick<VobsMachineSpec, 'boardIndex' | 'links'>;

export async function pairWiring(): Promise<{ master: BoardWiring; backup: BoardWiring }> {
  const ports = [await freePort(), await freePort()];
  const links = (mode: BoardLink['mode']): BoardLink[] => [
    { hub: 0, port: ports[0], mode },
    { hub: 1, port: ports[1], mode },
  ];
  return { master: { boardIndex: 0, links: links('listen') }, backup: { boardIndex: 1, links: links('connect') } };
}

/** The addresses that move with the VRRP master: the virtual servers' and the NAT inside address. */
export function floatingAddresses(site: Site): string[] {
  const vips = site.lvs.virtual_servers.map((vs) => vs.address);
  return [...new Set([...vips, ...(site.lvs.vrrp?.inside_address ? [site.lvs.vrrp.inside_address] : [])])];
}

/** IPv4 addresses on the board's interfaces now. */
export async function ipv4Addresses(shell: GuestShell): Promise<string[]> {
  return parseIpAddr(await shell.must('ip -o -4 addr show')).map((a) => a.address.split('/')[0]);
}

/** Poll until the board holds every address; the seconds it took, or null past `limitS`. */
export async function waitForAddresses(shell: GuestShell, addresses: string[], limitS: number): Promise<number | null> {
  const held = (now: string[]) => addresses.every((a) => now.includes(a));
  return (await pollUntil(() => ipv4Addresses(shell), held, { limitS, everyMs: 250 })).seconds;
}
