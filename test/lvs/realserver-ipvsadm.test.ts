/** Real-server bundles for every forwarding method, and the ipvsadm 1.24 rules format. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSite } from '../../src/site/load.js';
import { realServerBundles } from '../../src/lvs/realserver.js';
import { renderConfigTree } from '../../src/lvs/render.js';

const base = (vs: string, extra = '') => `hostname: lb
root: { allow_default_password: true }
network:
  interfaces:
    eth0: { address: 192.168.253.254/24 }
    eth1: { address: 172.16.14.120/24 }
lvs:
${extra}  virtual_servers:
${vs}`;

function files(text: string) {
  const bundles = realServerBundles(parseSite(text, 'site.yaml').site);
  return Object.fromEntries(bundles.map((b) => [b.address, Object.fromEntries(b.files.map((f) => [f.path, String(f.content)]))]));
}

test('NAT behind a pair: the real servers\' gateway is the floating inside address', () => {
  const vrrp = `  vrrp:
    virtual_router_id: 7
    auth_pass: s3cret
    inside_address: 172.16.14.250
    nodes:
      master: { hostname: lb1, priority: 100, interfaces: { eth0: { address: 192.168.253.251/24 }, eth1: { address: 172.16.14.251/24 } } }
      backup: { hostname: lb2, priority: 50, interfaces: { eth0: { address: 192.168.253.252/24 }, eth1: { address: 172.16.14.252/24 } } }
`;
  const text = base('    - { address: 192.168.253.120, port: 80, real_servers: [{ address: 172.16.14.121, port: 8080 }] }\n', vrrp);
  const out = files(text);
  assert.equal(out['172.16.14.121']['/nat-gateway.interfaces'], '    gateway 172.16.14.250\n');
  assert.match(out['172.16.14.121']['/README'], /gateway must be the director's inside address, 172\.16\.14\.250\./);
  // The inside address floats with the virtual address, on eth1.
  const conf = String(renderConfigTree(parseSite(text, 'site.yaml').site, { node: 'master' }).find((f) => f.path.endsWith('keepalived.conf'))!.content);
  assert.match(conf, /virtual_ipaddress \{\n\s+192\.168\.253\.120\/24 dev eth0 label eth0:120\n\s+172\.16\.14\.250\/24 dev eth1 label eth1:250\n\s+\}/);
});

test('DR: the VIP on lo:0 as /32, ARP sysctls for all, eth0 and lo, and the REDIRECT alternative', () => {
  const out = files(base('    - { address: 192.168.253.120, port: 443, forwarding: dr, check: { type: tcp }, real_servers: [{ address: 192.168.253.10, port: 443 }] }\n'));
  const rs = out['192.168.253.10'];
  assert.equal(rs['/lo-vip.interfaces'], 'auto lo:0\niface lo:0 inet static\n    address 192.168.253.120\n    netmask 255.255.255.255\n');
  for (const iface of ['all', 'eth0', 'lo']) {
    assert.match(rs['/arp.sysctl.conf'], new RegExp(`^net\\.ipv4\\.conf\\.${iface}\\.arp_ignore = 1$`, 'm'));
    assert.match(rs['/arp.sysctl.conf'], new RegExp(`^net\\.ipv4\\.conf\\.${iface}\\.arp_announce = 2$`, 'm'));
  }
  assert.match(rs['/iptables-redirect.sh'], /^iptables -t nat -A PREROUTING -p tcp -d 192\.168\.253\.120 --dport 443 -j REDIRECT$/m);
  assert.equal(rs['/nat-gateway.interfaces'], undefined, 'DR real servers keep their normal gateway');
});

test('TUN: the VIP on tunl0, ipip, relaxed rp_filter', () => {
  const out = files(base('    - { address: 192.168.253.120, port: 80, forwarding: tun, real_servers: [{ address: 10.20.0.5, port: 80 }] }\n'));
  const rs = out['10.20.0.5'];
  assert.match(rs['/ipip-tunl0.interfaces'], /^iface tunl0 inet static\n    address 192\.168\.253\.120\n    netmask 255\.255\.255\.255$/m);
  assert.match(rs['/arp.sysctl.conf'], /^net\.ipv4\.conf\.tunl0\.rp_filter = 0$/m);
  assert.match(rs['/README'], /load the ipip module/);
});

test('ipvsadm rules use only what ipvsadm 1.24 reads: -A/-a, -t/-u, -s, -p, -r, -m/-g/-i, -w; no comments', () => {
  const text = base(
    [
      '    - { address: 192.168.253.120, port: 80, scheduler: rr, persistence_timeout: 300, check: { type: none }, real_servers: [{ address: 172.16.14.121, port: 8080, weight: 3 }] }',
      '    - { address: 192.168.253.121, port: 53, protocol: udp, forwarding: dr, scheduler: sh, check: { type: none }, real_servers: [{ address: 192.168.253.10, port: 53 }] }',
      '    - { address: 192.168.253.122, port: 80, forwarding: tun, scheduler: lblcr, check: { type: none }, real_servers: [{ address: 10.0.0.1, port: 80, weight: 0 }] }',
      '',
    ].join('\n'),
    '  manager: ipvsadm\n',
  );
  const tree = renderConfigTree(parseSite(text, 'site.yaml').site);
  const rules = String(tree.find((f) => f.path === '/etc/ipvsadm.rules')!.content);
  assert.equal(
    rules,
    [
      '-A -t 192.168.253.120:80 -s rr -p 300',
      '-a -t 192.168.253.120:80 -r 172.16.14.121:8080 -m -w 3',
      '-A -u 192.168.253.121:53 -s sh',
      '-a -u 192.168.253.121:53 -r 192.168.253.10:53 -g -w 1',
      '-A -t 192.168.253.122:80 -s lblcr',
      '-a -t 192.168.253.122:80 -r 10.0.0.1:80 -i -w 0',
      '',
    ].join('\n'),
  );
  for (const line of rules.trim().split('\n')) {
    assert.match(line, /^-(A|a) -(t|u) \d+\.\d+\.\d+\.\d+:\d+( -s [a-z]+( -p \d+)?| -r \d+\.\d+\.\d+\.\d+:\d+ -(m|g|i) -w \d+)$/);
  }
  assert.equal(tree.some((f) => f.path.includes('keepalived')), false, 'no keepalived files with manager ipvsadm');
  assert.match(String(tree.find((f) => f.path === '/etc/default/ipvsadm')!.content), /^AUTO="true"$/m);
});
