/**
 * ipvsadm 1.24's side: /etc/default/ipvsadm (what the lenny init script reads) and, for `manager: ipvsadm`,
 * /etc/ipvsadm.rules in the `ipvsadm -S -n` format that `ipvsadm -R` restores. No comments in the rules
 * file and no 1.26+ flags (-o, -b, --tun-type): 1.24 cannot read them.
 */
import type { Site, VirtualServer } from '../site/model.js';
import { IPVSADM_DEFAULT_PATH, IPVSADM_RULES_PATH } from '../contracts/box-paths.js';
import { interfaceName } from '../site/grammar/interfaces.js';
import { shellWord } from '../site/grammar/shell-word.js';


const FORWARD_FLAG = { nat: '-m', dr: '-g', tun: '-i' } as const;

export function renderIpvsadmRules(site: Site): string {
  return site.lvs.virtual_servers.map(serviceRules).join('');
}

function serviceRules(vs: VirtualServer): string {
  const service = `${vs.protocol === 'udp' ? '-u' : '-t'} ${shellWord(IPVSADM_RULES_PATH, vs.address, 'the virtual address')}:${vs.port}`;
  const lines = [`-A ${service} -s ${vs.scheduler}${vs.persistence_timeout > 0 ? ` -p ${vs.persistence_timeout}` : ''}`];
  for (const rs of vs.real_servers) {
    lines.push(`-a ${service} -r ${shellWord(IPVSADM_RULES_PATH, rs.address, 'the real server address')}:${rs.port} ${FORWARD_FLAG[vs.forwarding]} -w ${rs.weight}`);
  }
  return lines.join('\n') + '\n';
}

export function renderIpvsadmDefault(site: Site): string {
  // With keepalived, AUTO must stay false: the init script's start/stop would flush keepalived's table.
  const auto = site.lvs.manager === 'ipvsadm';
  const iface = site.lvs.vrrp?.interface ?? Object.keys(site.network.interfaces)[0] ?? 'eth0';
  return [
    '# ipvsadm - written by obsbuild',
    auto
      ? '# AUTO="true": the init script clears the table and loads /etc/ipvsadm.rules at boot.'
      : '# AUTO="false": keepalived owns the IPVS table; the init script must not load or flush it.',
    `AUTO="${auto}"`,
    '',
    '# daemon method (none|master|backup)',
    'DAEMON="none"',
    '',
    '# use interface (eth0,eth1...)',
    `IFACE="${shellWord(IPVSADM_DEFAULT_PATH, interfaceName(iface, IPVSADM_DEFAULT_PATH), 'the interface')}"`,
    '',
  ].join('\n');
}
