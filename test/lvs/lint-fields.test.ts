/**
 * Lint's file-grammar and address rules beyond the one fixture per rule of lint.test.ts: every site
 * string that reaches a generated file is checked with the grammar of that file (values the schema
 * already refuses are put into the loaded site directly, as a future schema change could let them in),
 * and the address rules cover each address role, with the cases they must leave alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSite, type LoadedSite } from '../../src/site/load.js';
import type { Site } from '../../src/site/model.js';
import { lintSite } from '../../src/lvs/lint.js';
import type { Finding } from '../../src/contracts/finding.js';
import { sitesDir } from './tree.js';

async function lintOf(scenario: string, edits: [string, string][] = [], mutate: (s: Site) => void = () => {}): Promise<{ loaded: LoadedSite; findings: Finding[]; text: string }> {
  let text = await readFile(join(sitesDir, `${scenario}.yaml`), 'utf8');
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), `${scenario}.yaml has no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  const loaded = parseSite(text, `${scenario}.yaml`);
  mutate(loaded.site);
  return { loaded, findings: lintSite(loaded), text };
}

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `no line with ${JSON.stringify(needle)}`);
  return i + 1;
}

function expectFinding(findings: Finding[], rule: string, line: number, message: RegExp): void {
  const hit = findings.find((f) => f.rule === rule && f.line === line && f.severity === 'error');
  assert.ok(hit, `no error [${rule}] at line ${line} in:\n${findings.map((f) => `${f.line}: ${f.message} [${f.rule}]`).join('\n')}`);
  assert.match(hit.message, message);
}

function expectNone(findings: Finding[], rules: string[]): void {
  const hits = findings.filter((f) => rules.includes(f.rule));
  assert.deepEqual(hits, [], hits.map((f) => f.message).join('\n'));
}

test('every site string that lands in a generated file is checked against that file\'s grammar, at its own line', async () => {
  const covered = new Set<string>();
  const check = async (scenario: string, rule: string, needle: string, message: RegExp, edits: [string, string][], mutate?: (s: Site) => void) => {
    const { findings, text } = await lintOf(scenario, edits, mutate);
    expectFinding(findings, rule, lineOf(text, needle), message);
    covered.add(rule);
  };
  // Reachable from YAML: the schema lets these characters through.
  await check('nat-single', 'keepalived-syntax', 'path: "/a\\"b"', /lvs\.virtual_servers\[0\]\.check\.path "\/a\\"b" contains "\\"", which is a word of its own/, [['path: /,', `path: "/a\\"b",`]]);
  await check('nat-single', 'keepalived-syntax', 'path: "/a{b"', /contains "\{", which opens a block/, [['path: /,', 'path: "/a{b",']]);
  await check('nat-single', 'keepalived-syntax', 'path: "/a!b"', /contains "!", which starts a comment/, [['path: /,', 'path: "/a!b",']]);
  await check('dr-http-pair', 'keepalived-syntax', 'auth_pass:', /auth_pass "ab\\u0001" contains the control character U\+0001/, [['auth_pass: hogehoge', 'auth_pass: "ab\\x01"']]);
  await check('nat-single', 'sysctl-syntax', 'kernel.core_pattern', /network\.sysctl\.kernel\.core_pattern .* makes a 2\d\d-character line; procps 3\.2\.7 reads at most 254/, [
    ['  nameservers: []\n', `  nameservers: []\n  sysctl:\n    kernel.core_pattern: "${'x'.repeat(240)}"\n`],
  ]);
  await check('nat-single', 'sysctl-syntax', 'net.ipv4.conf.all.rp_filter', /starts or ends with blanks, which procps drops/, [['  nameservers: []\n', '  nameservers: []\n  sysctl:\n    net.ipv4.conf.all.rp_filter: " 1"\n']]);
  // Refused by the schema today; lint checks them all the same.
  await check('nat-single', 'hosts-syntax', 'hostname: obs600', /^hostname "obs 600" is not a host name/, [], (s) => (s.hostname = 'obs 600'));
  await check('nat-single', 'keepalived-syntax', '- name: web', /lvs\.virtual_servers\[0\]\.name "web#1" contains "#"/, [], (s) => (s.lvs.virtual_servers[0].name = 'web#1'));
  await check('dr-http-pair', 'hosts-syntax', 'master: { hostname', /lvs\.vrrp\.nodes\.master\.hostname "lvs-master\\nx" is not a host name/, [], (s) => (s.lvs.vrrp!.nodes.master.hostname = 'lvs-master\nx'));
  await check('dr-http-pair', 'interfaces-syntax', 'interface: eth0', /lvs\.vrrp\.interface "eth0 eth1" is not an interface name/, [], (s) => (s.lvs.vrrp!.interface = 'eth0 eth1'));
  await check('nat-single', 'interfaces-syntax', '  interfaces:', /network\.interfaces\.eth0;x "eth0;x" is not an interface name/, [], (s) => (s.network.interfaces = { 'eth0;x': s.network.interfaces.eth0, eth1: s.network.interfaces.eth1 }));
  await check('nat-single', 'shadow-syntax', 'password_hash:', /root\.password_hash "\$1\$x\$y:0:0" contains ":"/, [], (s) => (s.root.password_hash = '$1$x$y:0:0'));
  await check('nat-single', 'authorized-keys-syntax', 'root:', /root\.authorized_keys\[0\] "ssh-rsa AAAA a\\nssh-rsa BBBB b" contains a newline/, [], (s) => (s.root.authorized_keys = ['ssh-rsa AAAA a\nssh-rsa BBBB b']));
  await check('nat-single', 'shell-syntax', 'board: obs600', /^install\.cf_device "\/dev\/sda;reboot" contains ";"/, [], (s) => (s.install.cf_device = '/dev/sda;reboot'));
  await check('nat-single', 'sysctl-syntax', 'network:', /network\.sysctl key "net\.ipv4 = 1\\nkernel\.x" is not a sysctl key/, [], (s) => (s.network.sysctl = { 'net.ipv4 = 1\nkernel.x': '1' }));
  // Every grammar rule lint-syntax can report is exercised above.
  const src = await readFile(new URL('../../src/lvs/lint-syntax.js', import.meta.url), 'utf8');
  const rules = new Set([...src.matchAll(/rule: '([a-z-]+)'/g), ...src.matchAll(/report\('error', '([a-z-]+)'/g)].map((m) => m[1]));
  assert.ok(rules.size >= 7, [...rules].join(', '));
  for (const r of rules) assert.ok(covered.has(r), `rule ${r} has no case here`);
});

test('a site whose values every grammar accepts has no syntax findings (odd but valid path, sysctl values with spaces)', async () => {
  const { findings } = await lintOf('nat-single', [
    ['path: /,', "path: \"/a$b;c'd~e@f%20h?x=1&y=(2)\","],
    ['  nameservers: []\n', '  nameservers: []\n  sysctl:\n    net.ipv4.tcp_rmem: "4096 87380 4194304"\n    kernel.core_pattern: "|/usr/bin/dump %p"\n'],
  ]);
  assert.deepEqual(findings, []);
});

test('address rules: each address role, and what they leave alone', async () => {
  let text = '';
  const nat = async (edits: [string, string][]) => {
    const r = await lintOf('nat-single', edits);
    text = r.text;
    return r.findings;
  };
  let f = await nat([['  gateway: null', '  gateway: 224.0.0.1']]);
  expectFinding(f, 'special-address', lineOf(text, 'gateway: 224.0.0.1'), /gateway 224\.0\.0\.1 is a multicast address \(224\.0\.0\.0\/4\)/);
  f = await nat([['eth1: { address: 172.16.14.120/24 }', 'eth1: { address: 239.1.1.1/24 }']]);
  expectFinding(f, 'special-address', lineOf(text, 'eth1: { address: 239.1.1.1/24 }'), /obs600's eth1 address 239\.1\.1\.1\/24 is a multicast address/);
  f = await nat([['- { address: 172.16.14.123, port: 80, weight: 1 }', '- { address: 0.0.0.1, port: 80, weight: 1 }']]);
  expectFinding(f, 'special-address', lineOf(text, 'address: 0.0.0.1, port: 80, weight: 1 }'), /real server 0\.0\.0\.1 \(web\) is a "this network" address \(0\.0\.0\.0\/8\)/);
  f = await nat([['      address: 192.168.253.120', '      address: 192.168.253.0']]);
  expectFinding(f, 'network-broadcast-address', lineOf(text, 'address: 192.168.253.0'), /virtual address 192\.168\.253\.0 \(web\) is the network address of obs600's eth0 subnet 192\.168\.253\.0\/24/);
  f = await nat([['- { address: 172.16.14.123, port: 80, weight: 1 }', '- { address: 172.16.14.255, port: 80, weight: 1 }']]);
  expectFinding(f, 'network-broadcast-address', lineOf(text, 'address: 172.16.14.255, port: 80, weight: 1 }'), /real server 172\.16\.14\.255 \(web\) is the broadcast address/);
  f = await nat([['- { address: 172.16.14.123, port: 80, weight: 1 }', '- { address: 192.168.253.120, port: 80, weight: 1 }']]);
  expectFinding(f, 'real-server-is-director', lineOf(text, 'address: 192.168.253.120, port: 80, weight: 1 }'), /real server 192\.168\.253\.120 \(web\) is the director's virtual address for web/);
  f = await nat([['  gateway: null', '  gateway: 192.168.253.120']]);
  expectFinding(f, 'gateway-is-director', lineOf(text, 'gateway: 192.168.253.120'), /gateway 192\.168\.253\.120 is the director's virtual address for web/);
  f = await nat([['  nameservers: []', '  nameservers: [192.168.253.53, 0.0.0.0]']]);
  expectFinding(f, 'nameserver-address', lineOf(text, 'nameservers: [192.168.253.53, 0.0.0.0]'), /name server 0\.0\.0\.0 is a "this network" address/);
  // A local resolver and IPVS's local node (a sorry server on the director itself) are fine.
  f = await nat([
    ['  nameservers: []', '  nameservers: [127.0.0.1]'],
    ['      check: {', '      sorry_server: { address: 127.0.0.1, port: 80 }\n      check: {'],
  ]);
  assert.deepEqual(f, []);
  f = await nat([['      check: {', '      sorry_server: { address: 172.16.14.120, port: 8080 }\n      check: {']]);
  assert.deepEqual(f, []);
  f = await nat([['      check: {', '      sorry_server: { address: 224.0.0.9, port: 80 }\n      check: {']]);
  expectFinding(f, 'special-address', lineOf(text, 'sorry_server: { address: 224.0.0.9'), /sorry server 224\.0\.0\.9 \(web\) is a multicast address/);
  // A pair: the floating inside address, and each node's own addresses.
  const pair = await lintOf('all-features', [['inside_address: 172.16.14.250', 'inside_address: 172.16.14.255']]);
  const insideLine = lineOf(pair.text, 'inside_address:');
  expectFinding(pair.findings, 'network-broadcast-address', insideLine, /floating inside address 172\.16\.14\.255 is the broadcast address of lab1's eth1 subnet/);
  const backupGw = await lintOf('dr-http-pair', [['gateway: 172.16.64.1', 'gateway: 172.16.80.82']]);
  expectFinding(backupGw.findings, 'gateway-is-director', lineOf(backupGw.text, 'gateway:'), /gateway 172\.16\.80\.82 is lvs-slave's own eth0 address/);
});

test('sysctl overrides of forwarding: errors on a NAT director only when they turn it off', async () => {
  const withSysctl = (yaml: string) => lintOf('nat-single', [['  nameservers: []\n', `  nameservers: []\n  sysctl:\n${yaml}`]]);
  let r = await withSysctl('    net.ipv4.conf.eth1.forwarding: 0\n');
  expectFinding(r.findings, 'sysctl-ip-forward', lineOf(r.text, 'eth1.forwarding'), /net\.ipv4\.conf\.eth1\.forwarding = "0", which turns packet forwarding off/);
  r = await withSysctl('    net.ipv4.conf.all.forwarding: "off"\n');
  expectFinding(r.findings, 'sysctl-ip-forward', lineOf(r.text, 'all.forwarding'), /is not a number the kernel reads as on/);
  r = await withSysctl('    net.ipv4.ip_forward: 1\n    net.ipv4.conf.default.forwarding: 0\n');
  expectNone(r.findings, ['sysctl-ip-forward']);
  const dr = await lintOf('dr-http-pair', [['  gateway: 172.16.64.1\n', '  gateway: 172.16.64.1\n  sysctl:\n    net.ipv4.ip_forward: 0\n']]);
  expectNone(dr.findings, ['sysctl-ip-forward']);
});
