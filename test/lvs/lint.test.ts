/**
 * `obsbuild lint`: one failing site file per rule (test/fixtures/sites/lint/<rule>.yaml). Each file marks
 * the line the finding must point at with `# <- lint`; the test checks exit code, line, rule and message.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { sitesDir } from './tree.js';
import { loadSite } from '../../src/site/load.js';
import { lintSite } from '../../src/lvs/lint.js';

const lintDir = join(sitesDir, 'lint');

/** rule → [severity, message pattern]. Severity `load` means the file is rejected before lint runs. */
const cases: Record<string, ['error' | 'warning' | 'load', RegExp]> = {
  'root-password': ['error', /root would keep the default password root\/root: set root\.password_hash/],
  'board-interfaces': ['error', /the OpenBlockS 600 has only eth0 and eth1; rename interface "eth2"/],
  interfaces: ['error', /obs600 has no interfaces: give it eth0/],
  'overlapping-interfaces': ['error', /eth0 \(192\.168\.253\.0\/24\) and eth1 \(192\.168\.253\.0\/24\) overlap/],
  'gateway-subnet': ['error', /gateway 10\.0\.0\.1 is not in a subnet of obs600/],
  'duplicate-virtual-server': ['error', /virtual server tcp 192\.168\.253\.120:80 is already defined as lvs\.virtual_servers\[0\]/],
  'duplicate-real-server': ['error', /real server 172\.16\.14\.122:80 is listed twice in web; remove one/],
  'zero-weight': ['warning', /every real server of web has weight 0, so the service gets no traffic/],
  'check-protocol': ['error', /web is a UDP service but check\.type is http/],
  'vip-subnet': ['error', /virtual address 10\.9\.9\.9 \(web\) is not in a subnet of obs600 .*client-side subnet/],
  'vip-is-interface-address': ['error', /virtual address 192\.168\.253\.254 is also obs600's eth0 address/],
  'nat-real-server-subnet': ['error', /NAT real server 10\.1\.1\.1 is not in a directly connected subnet of obs600/],
  'nat-vip-subnet': ['error', /NAT virtual address 172\.16\.14\.200 is in the same subnet \(172\.16\.14\.0\/24\) as its real servers/],
  'nat-ip-forward': ['error', /NAT \(web\) needs the director to forward packets: set network\.ip_forward: true/],
  'nat-pair-gateway': ['error', /set lvs\.vrrp\.inside_address to a free address on the real-server subnet/],
  'dr-port': ['error', /real server 172\.16\.80\.78 port 8080 must equal the virtual port 80/],
  'dr-segment': ['error', /DR real server 10\.1\.1\.78 must share a segment with lvs-master/],
  'vrrp-manager': ['error', /an HA pair \(lvs\.vrrp\) needs manager: keepalived/],
  'vrrp-vrid': ['error', /virtual_router_id 256 is out of range: use 1-255/],
  'vrrp-priority': ['error', /priority 255 of the master is out of range: use 1-254/],
  'vrrp-priority-equal': ['warning', /master and backup both have priority 100: the node with the higher IP address wins/],
  'vrrp-priority-order': ['warning', /the backup's priority \(150\) is higher than the master's \(100\)/],
  'vrrp-nopreempt-state': ['error', /nopreempt needs state BACKUP on both nodes, but the master has state MASTER/],
  'vrrp-vip-count': ['error', /21 virtual addresses, but keepalived 1\.1\.15 keeps at most 20 per VRRP instance/],
  'vrrp-interface': ['error', /VRRP interface eth1 is not an interface of lvs-master/],
  'vrrp-node-addresses': ['error', /master and backup both use 172\.16\.80\.81 on eth0/],
  'vrrp-node-subnets': ['error', /eth0 is in 172\.16\.64\.0\/18 on the master but 172\.16\.80\.0\/24 on the backup/],
  'vrrp-node-hostnames': ['error', /master and backup are both called lvs-master/],
  'ipvsadm-sorry-server': ['error', /web: a sorry server needs health checks; use manager: keepalived/],
  'ipvsadm-no-checks': ['warning', /manager ipvsadm has no health checks \(web\): a dead real server stays in rotation/],
  'auth-pass-length': ['load', /lvs\.vrrp\.auth_pass is 9 characters; keepalived 1\.1\.15 silently truncates it to 8, so use at most 8/],
  'unknown-key': ['load', /network\.interfaces\.eth0: unknown key "adress": did you mean "address"\?/],
  'bad-address': ['load', /real_servers\[2\]\.address: "172\.16\.14\.300" is not an IPv4 address/],
  'bad-prefix': ['load', /network\.interfaces\.eth1\.address: "172\.16\.14\.120\/33": prefix "\/33" is not a number from 0 to 32/],
  'wrong-type': ['load', /lvs\.virtual_servers\[0\]\.port must be a number \(a TCP\/UDP port\), not "eighty"/],
  'timer-fraction': ['load', /delay_loop must be whole seconds .*1\.5 would become 1/],
  'keepalived-syntax': ['error', /lvs\.vrrp\.auth_pass "pa}ss" contains "}", which closes a block in keepalived\.conf/],
  'sysctl-syntax': ['error', /network\.sysctl\.net\.ipv4\.conf\.all\.rp_filter "0\\nkernel\.panic = 1" contains a newline/],
  'authorized-keys-syntax': ['error', /root\.authorized_keys\[0\] .* contains the control character U\+001B; each key must be one line/],
  'sysctl-ip-forward': ['error', /network\.sysctl sets net\.ipv4\.ip_forward = "0", which turns packet forwarding off .*NAT \(web\) needs forwarding/],
  'special-address': ['error', /obs600's eth0 address 127\.1\.1\.254\/24 is a loopback address \(127\.0\.0\.0\/8\)/],
  'nameserver-address': ['error', /name server 255\.255\.255\.255 is the limited broadcast address/],
  'network-broadcast-address': ['error', /virtual address 192\.168\.253\.255 \(web\) is the broadcast address of obs600's eth0 subnet 192\.168\.253\.0\/24/],
  'real-server-is-director': ['error', /real server 172\.16\.14\.120 \(web\) is obs600's own eth1 address/],
  'gateway-is-director': ['error', /gateway 192\.168\.253\.254 is obs600's own eth0 address/],
  'nat-sorry-server-subnet': ['error', /NAT sorry server 10\.9\.9\.9 \(web\) is not in a directly connected subnet of obs600/],
  'service-host-name': ['warning', /ntp server ntp\.nict\.jp is a host name but network\.nameservers is empty, so the box cannot resolve it/],
};

async function markedLine(file: string): Promise<number> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const hits = lines.flatMap((l, i) => (/\S.*  # <- lint$/.test(l) && !l.startsWith('#') ? [i + 1] : []));
  assert.equal(hits.length, 1, `${file} must mark exactly one line with "# <- lint"`);
  return hits[0];
}

// Each case spawns the CLI; a few at a time keeps the file well under a minute on a busy machine.
describe('obsbuild lint, one failing site file per rule', { concurrency: 4 }, () => {
for (const [rule, [severity, message]] of Object.entries(cases)) {
  test(`lint rule ${rule}: ${severity === 'load' ? 'rejected when loading' : severity}, exit ${severity === 'warning' ? 0 : 1}, message at the marked line`, async () => {
    const file = join(lintDir, `${rule}.yaml`);
    const line = await markedLine(file);
    const r = await runCli(['lint', '--site', file]);
    if (severity === 'load') {
      assert.equal(r.exitCode, 1, String(r.stderr));
      const stderr = String(r.stderr).trim();
      assert.ok(stderr.startsWith(`obsbuild: ${file}:${line}: `), stderr);
      assert.match(stderr, message);
      assert.equal(stderr.split('\n').length, 1, 'one line');
      return;
    }
    assert.equal(r.exitCode, severity === 'error' ? 1 : 0, String(r.stdout) + String(r.stderr));
    const hit = String(r.stdout)
      .split('\n')
      .find((l) => l.startsWith(`${file}:${line}: ${severity}: `) && l.endsWith(`[${rule}]`));
    assert.ok(hit, `no ${severity} [${rule}] at ${file}:${line} in:\n${r.stdout}\n${r.stderr}`);
    assert.match(hit, message);
  });
}
});

test('every lint fixture has a case and every rule lintSite can report has a fixture', async () => {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(lintDir)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
  assert.deepEqual(files, Object.keys(cases).sort());
  // lint.js and the lint-*.js modules it calls.
  const srcDir = new URL('../../src/lvs/', import.meta.url);
  const lintFiles = (await readdir(srcDir)).filter((f) => /^lint(-[a-z]+)?\.js$/.test(f));
  assert.ok(lintFiles.length > 1, lintFiles.join(', '));
  const src = (await Promise.all(lintFiles.map((f) => readFile(new URL(f, srcDir), 'utf8')))).join('\n');
  const rules = [...src.matchAll(/report\('(?:error|warning)', '([a-z-]+)'/g)].map((m) => m[1]);
  for (const r of new Set(rules)) assert.ok(r in cases, `rule ${r} has no failing fixture`);
});

test('the reference scenarios lint without errors', async () => {
  for (const name of ['nat-single', 'ipvsadm-nat', 'dr-tcp-pair', 'dr-http-pair']) {
    const findings = lintSite(await loadSite(join(sitesDir, `${name}.yaml`)));
    assert.deepEqual(findings.filter((f) => f.severity === 'error'), [], name);
  }
});

test('render refuses a site with lint errors, prints them and writes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-lint-'));
  try {
    const file = join(lintDir, 'dr-port.yaml');
    const out = join(dir, 'out');
    const r = await runCli(['render', '--site', file, '--out', out]);
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /error: DR cannot change ports.*\[dr-port\]/);
    assert.match(String(r.stderr), /obsbuild: .*dr-port\.yaml: 1 lint error \(listed above\); nothing was written/);
    await assert.rejects(access(out));
    const rs = await runCli(['realserver', '--site', file, '--out', out]);
    assert.equal(rs.exitCode, 1);
    await assert.rejects(access(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
