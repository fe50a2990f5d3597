import type { Site } from '../site/model.js';
import { siteNodes } from '../site/nodes.js';
import { realServerBundles } from '../lvs/realserver.js';
import { prefixOfNetmask } from '../site/ipv4.js';
import { UserError } from '../util/errors.js';
import type { GuestShell } from './guest-shell.js';
import { pollUntil } from './poll.js';
import { parseIpvsadm, parseIpvsadmStats, type IpvsServiceStats } from '../console/box-output.js';

/**
 * The LVS traffic test, inside the virtual board after its first boot. The guest's two spare NICs sit on
 * the same QEMU hubs as the appliance's ports (see qemu.ts), and become the test network. NAT:
 *
 *   namespace "client":  eth2 (hub 0, with the appliance's eth0), an address in eth0's subnet
 *   namespace "rsw":     eth3 (hub 1, with the appliance's eth1) in a bridge, the real servers' switch
 *   namespaces "rs1".."rsN": one veth into the switch each, the real server's address, default route via
 *                        the appliance's eth1 address (for an HA pair the floating inside_address),
 *                        and busybox httpd answering "rs<N>"
 *
 * DR: the real servers share eth0's segment, so the switch "rsw" holds eth2 and the client joins it by a
 * veth; each real server applies what `obsbuild realserver` wrote for it (the virtual address on lo, the
 * ARP sysctls) and answers the client directly, not through the appliance.
 *
 * The appliance's own network (eth0, eth1, keepalived, IPVS) is untouched: traffic goes out of a namespace,
 * over the virtual wire, into eth0, through IPVS, and to a real server.
 */
export interface RealServerPlan {
  name: string;
  address: string;
  port: number;
  /** DR: addresses `obsbuild realserver` puts on lo (lo-vip.interfaces), as address/prefix */
  loopbackAddresses: string[];
  /** DR: its arp.sysctl.conf, as key/value pairs */
  sysctls: [string, string][];
}

export interface TrafficPlan {
  forwarding: 'nat' | 'dr';
  vip: string;
  port: number;
  clientAddress: string;
  prefix0: number;
  /** NAT: the real servers' default gateway (the appliance's inside address) */
  gateway?: string;
  /** the real servers' subnet prefix length */
  rsPrefix: number;
  realServers: RealServerPlan[];
  /** Seconds keepalived may take to take a dead real server out: delay_loop + retries × (timeout + delay). */
  takeOutBudgetS: number;
}

function splitCidr(cidr: string): { address: string; prefix: number } {
  const [address, prefix] = cidr.split('/');
  return { address, prefix: Number(prefix ?? 24) };
}

/** The stanzas of an interfaces(5) fragment, as address/prefix. */
function interfacesAddresses(text: string): string[] {
  const out: string[] = [];
  for (const stanza of text.split(/^iface /m).slice(1)) {
    const address = /^\s*address\s+(\S+)/m.exec(stanza)?.[1];
    const netmask = /^\s*netmask\s+(\S+)/m.exec(stanza)?.[1];
    if (address) out.push(`${address}/${netmask ? prefixOfNetmask(netmask) : 32}`);
  }
  return out;
}

function sysctlPairs(text: string): [string, string][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('=').map((x) => x.trim()) as [string, string]);
}

/**
 * The plan for the site's first virtual server, with a client address free in eth0's subnet. DR real servers
 * get what `obsbuild realserver` generates for them, so the traffic test also proves those files.
 */
export function trafficPlan(site: Site): TrafficPlan {
  const vs = site.lvs.virtual_servers[0];
  if (vs.forwarding === 'tun') throw new UserError(`virtual server ${vs.name}: the virtual board's traffic test covers nat and dr, not tun`, { code: 'site-invalid' });
  const nodes = siteNodes(site);
  const eth0 = splitCidr(nodes[0].interfaces.eth0.address);
  const rsSide = vs.forwarding === 'dr' ? eth0 : splitCidr(nodes[0].interfaces.eth1.address);
  const taken = new Set([vs.address, ...nodes.map((n) => splitCidr(n.interfaces.eth0.address).address), ...vs.real_servers.map((r) => r.address)]);
  const base = eth0.address.split('.').slice(0, 3).join('.');
  let client = '';
  for (let i = 1; i < 254 && !client; i++) if (!taken.has(`${base}.${i}`)) client = `${base}.${i}`;
  const check = vs.check as { connect_timeout?: number; retries?: number; retry_delay?: number };
  const budget = vs.delay_loop + (check.retries ?? 1) * ((check.connect_timeout ?? 3) + (check.retry_delay ?? 1));
  const bundles = new Map(realServerBundles(site).map((b) => [b.address, new Map(b.files.map((f) => [f.path, String(f.content)]))]));
  return {
    forwarding: vs.forwarding,
    vip: vs.address,
    port: vs.port,
    clientAddress: client,
    prefix0: eth0.prefix,
    gateway: vs.forwarding === 'nat' ? site.lvs.vrrp?.inside_address ?? rsSide.address : undefined,
    rsPrefix: rsSide.prefix,
    realServers: vs.real_servers.map((rs, i) => {
      const files = bundles.get(rs.address);
      const dr = vs.forwarding === 'dr';
      return {
        name: `rs${i + 1}`,
        address: rs.address,
        port: rs.port,
        loopbackAddresses: dr ? interfacesAddresses(files?.get('/lo-vip.interfaces') ?? '') : [],
        sysctls: dr ? sysctlPairs(files?.get('/arp.sysctl.conf') ?? '') : [],
      };
    }),
    takeOutBudgetS: budget,
  };
}

export function setupCommands(p: TrafficPlan): string[] {
  const cmds = ['ip netns add client', 'ip netns add rsw', 'ip -n rsw link add br0 type bridge'];
  if (p.forwarding === 'nat') {
    cmds.push(
      'ip link set eth2 netns client',
      `ip -n client addr add ${p.clientAddress}/${p.prefix0} dev eth2`,
      'ip -n client link set eth2 up',
      'ip link set eth3 netns rsw',
      'ip -n rsw link set eth3 master br0',
      'ip -n rsw link set eth3 up',
    );
  } else {
    // DR: one segment. The client, the real servers and eth2 (the appliance's eth0 wire) share the switch.
    cmds.push(
      'ip link set eth2 netns rsw',
      'ip -n rsw link set eth2 master br0',
      'ip -n rsw link set eth2 up',
      'ip -n rsw link add pclient type veth peer name eth0 netns client',
      'ip -n rsw link set pclient master br0',
      'ip -n rsw link set pclient up',
      `ip -n client addr add ${p.clientAddress}/${p.prefix0} dev eth0`,
      'ip -n client link set eth0 up',
    );
  }
  cmds.push('ip -n client link set lo up', 'ip -n rsw link set br0 up');
  for (const rs of p.realServers) {
    const n = rs.name;
    cmds.push(
      `ip netns add ${n}`,
      `ip -n rsw link add p${n} type veth peer name eth0 netns ${n}`,
      `ip -n rsw link set p${n} master br0`,
      `ip -n rsw link set p${n} up`,
      // ARP settings before the virtual address arrives, as the real server's sysctl.conf applies them at boot
      ...rs.sysctls.map(([key, value]) => `ip netns exec ${n} busybox sysctl -w ${key}=${value}`),
      `ip -n ${n} addr add ${rs.address}/${p.rsPrefix} dev eth0`,
      ...rs.loopbackAddresses.map((a) => `ip -n ${n} addr add ${a} dev lo`),
      `ip -n ${n} link set lo up`,
      `ip -n ${n} link set eth0 up`,
      ...(p.gateway ? [`ip -n ${n} route add default via ${p.gateway}`] : []),
      `mkdir -p /tmp/obsbuild-www/${n} && echo ${n} > /tmp/obsbuild-www/${n}/index.html`,
      startCommand(rs.name, rs.port),
    );
  }
  return cmds;
}

function startCommand(name: string, port: number): string {
  return `ip netns exec ${name} busybox httpd -p ${port} -h /tmp/obsbuild-www/${name}`;
}

export async function setUpTrafficNetwork(shell: GuestShell, p: TrafficPlan): Promise<void> {
  for (const c of setupCommands(p)) await shell.must(c, 20_000);
}

/**
 * One HTTP/1.0 request from the client namespace to the virtual address (busybox nc: Debian's busybox
 * wget crashes inside a network namespace here); the body the real server sent (its name), or null.
 */
export async function requestOnce(shell: GuestShell, p: TrafficPlan): Promise<string | null> {
  const r = await shell.run(
    `printf 'GET / HTTP/1.0\\r\\nHost: ${p.vip}\\r\\n\\r\\n' | ip netns exec client busybox nc -w 3 ${p.vip} ${p.port}`,
    15_000,
  );
  if (r.exitCode !== 0) return null;
  return httpBody(r.output);
}

/** The body of a 200 response (the shell driver has already turned CR LF into LF), else null. */
export function httpBody(response: string): string | null {
  const text = response.replace(/\r/g, '');
  if (!/^HTTP\/1\.[01] 200 /.test(text)) return null;
  const at = text.indexOf('\n\n');
  return at < 0 ? null : text.slice(at + 2).trim();
}

export async function requests(shell: GuestShell, p: TrafficPlan, n: number): Promise<(string | null)[]> {
  const answers: (string | null)[] = [];
  for (let i = 0; i < n; i++) answers.push(await requestOnce(shell, p));
  return answers;
}

/** Real servers `ipvsadm -L -n` lists under the virtual server now. */
export async function ipvsRealServers(shell: GuestShell, p: TrafficPlan): Promise<string[]> {
  const service = parseIpvsadm(await shell.must('ipvsadm -L -n')).find((s) => s.address === p.vip && s.port === p.port);
  return service ? service.reals.map((r) => r.address) : [];
}

/**
 * The virtual service's counters from `ipvsadm -L -n --stats --exact`. With DR and TUN the replies bypass
 * the director, so its outgoing packet count stays 0; with NAT every reply passes through it.
 */
export async function ipvsServiceStats(shell: GuestShell, p: TrafficPlan): Promise<IpvsServiceStats | undefined> {
  return parseIpvsadmStats(await shell.must('ipvsadm -L -n --stats --exact')).find((s) => s.address === p.vip && s.port === p.port);
}

/** Poll `ipvsadm -L -n` until `want` holds; resolves with the seconds it took, or null past the limit. */
export async function waitForIpvs(
  shell: GuestShell,
  p: TrafficPlan,
  want: (listed: string[]) => boolean,
  limitS: number,
): Promise<number | null> {
  return (await pollUntil(() => ipvsRealServers(shell, p), want, { limitS, everyMs: 500 })).seconds;
}

/** Stop one real server's HTTP daemon (every process in its namespace). */
export async function stopRealServer(shell: GuestShell, name: string): Promise<void> {
  await shell.must(`ip netns pids ${name} | xargs -r kill`);
}
