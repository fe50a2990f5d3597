import type { Site } from '../site/model.js';
import { siteNodes } from '../site/nodes.js';
import type { GuestShell } from './guest-shell.js';

/**
 * The LVS traffic test, inside the virtual board after its first boot. The guest's two spare NICs sit on
 * the same QEMU hubs as the appliance's ports (see qemu.ts), and become the test network:
 *
 *   namespace "client":  eth2 (hub 0, with the appliance's eth0), an address in eth0's subnet
 *   namespace "rsw":     eth3 (hub 1, with the appliance's eth1) in a bridge, the real servers' switch
 *   namespaces "rs1".."rsN": one veth into the switch each, the real server's address, default route via
 *                        the appliance's eth1 address (NAT; for an HA pair the floating inside_address),
 *                        and busybox httpd answering "rs<N>"
 *
 * The appliance's own network (eth0, eth1, keepalived, IPVS) is untouched: traffic goes out of a namespace,
 * over the virtual wire, into eth0, through IPVS, out of eth1 and back.
 */
export interface TrafficPlan {
  vip: string;
  port: number;
  clientAddress: string;
  prefix0: number;
  gateway: string;
  prefix1: number;
  realServers: { name: string; address: string; port: number }[];
  /** Seconds keepalived may take to take a dead real server out: delay_loop + retries × (timeout + delay). */
  takeOutBudgetS: number;
}

function splitCidr(cidr: string): { address: string; prefix: number } {
  const [address, prefix] = cidr.split('/');
  return { address, prefix: Number(prefix ?? 24) };
}

/** The plan for the site's first virtual server (NAT), with a client address free in eth0's subnet. */
export function trafficPlan(site: Site): TrafficPlan {
  const vs = site.lvs.virtual_servers[0];
  const nodes = siteNodes(site);
  const eth0 = splitCidr(nodes[0].interfaces.eth0.address);
  const eth1 = splitCidr(nodes[0].interfaces.eth1.address);
  const taken = new Set([vs.address, ...nodes.map((n) => splitCidr(n.interfaces.eth0.address).address)]);
  const base = eth0.address.split('.').slice(0, 3).join('.');
  let client = '';
  for (let i = 1; i < 254 && !client; i++) if (!taken.has(`${base}.${i}`)) client = `${base}.${i}`;
  const check = vs.check as { connect_timeout?: number; retries?: number; retry_delay?: number };
  const budget = vs.delay_loop + (check.retries ?? 1) * ((check.connect_timeout ?? 3) + (check.retry_delay ?? 1));
  return {
    vip: vs.address,
    port: vs.port,
    clientAddress: client,
    prefix0: eth0.prefix,
    gateway: site.lvs.vrrp?.inside_address ?? eth1.address,
    prefix1: eth1.prefix,
    realServers: vs.real_servers.map((rs, i) => ({ name: `rs${i + 1}`, address: rs.address, port: rs.port })),
    takeOutBudgetS: budget,
  };
}

export function setupCommands(p: TrafficPlan): string[] {
  const cmds = [
    'ip netns add client',
    'ip link set eth2 netns client',
    `ip -n client addr add ${p.clientAddress}/${p.prefix0} dev eth2`,
    'ip -n client link set lo up',
    'ip -n client link set eth2 up',
    'ip netns add rsw',
    'ip link set eth3 netns rsw',
    'ip -n rsw link add br0 type bridge',
    'ip -n rsw link set eth3 master br0',
    'ip -n rsw link set eth3 up',
    'ip -n rsw link set br0 up',
  ];
  for (const rs of p.realServers) {
    const n = rs.name;
    cmds.push(
      `ip netns add ${n}`,
      `ip -n rsw link add p${n} type veth peer name eth0 netns ${n}`,
      `ip -n rsw link set p${n} master br0`,
      `ip -n rsw link set p${n} up`,
      `ip -n ${n} addr add ${rs.address}/${p.prefix1} dev eth0`,
      `ip -n ${n} link set lo up`,
      `ip -n ${n} link set eth0 up`,
      `ip -n ${n} route add default via ${p.gateway}`,
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
  const out = await shell.must('ipvsadm -L -n');
  const found: string[] = [];
  let inService = false;
  for (const line of out.split('\n')) {
    const svc = /^(TCP|UDP|FWM)\s+(\S+)/.exec(line);
    if (svc) inService = svc[2] === `${p.vip}:${p.port}`;
    const rs = /^\s+->\s+(\d+\.\d+\.\d+\.\d+):(\d+)/.exec(line);
    if (rs && inService) found.push(rs[1]);
  }
  return found;
}

/** Poll `ipvsadm -L -n` until `want` holds; resolves with the seconds it took, or null past the limit. */
export async function waitForIpvs(
  shell: GuestShell,
  p: TrafficPlan,
  want: (listed: string[]) => boolean,
  limitS: number,
): Promise<number | null> {
  const t0 = performance.now();
  for (;;) {
    const s = (performance.now() - t0) / 1000;
    if (want(await ipvsRealServers(shell, p))) return s;
    if (s > limitS) return null;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Stop one real server's HTTP daemon (every process in its namespace). */
export async function stopRealServer(shell: GuestShell, name: string): Promise<void> {
  await shell.must(`ip netns pids ${name} | xargs -r kill`);
}
