import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareVirtualServer, runChecks, expectedNode, timezoneCommand } from '../../src/console/checks.js';
import { tzif } from '../fixtures/inputs/make-standin-inputs.js';
import { parseIpAddr, parseIpvsadm } from '../../src/console/box-output.js';
import type { CommandResult } from '../../src/console/shell.js';
import { testSite } from './harness.js';
import { GOOD_IPADDR, GOOD_IPVSADM } from './simulator.js';

test('ipvsadm -L -n parses into services with schedulers, persistence and real servers', () => {
  const t = parseIpvsadm(GOOD_IPVSADM + 'UDP  192.168.253.121:53 rr persistent 50\n  -> 172.16.14.124:53  Route 2 0 0\n');
  assert.equal(t.length, 2);
  assert.deepEqual(t[0].reals.map((r) => r.address), ['172.16.14.121', '172.16.14.122', '172.16.14.123']);
  assert.deepEqual({ ...t[1], reals: t[1].reals.length }, { protocol: 'udp', address: '192.168.253.121', port: 53, scheduler: 'rr', persistent: 50, reals: 1 });
});

test('a virtual server compares cleanly; a down real server is named', () => {
  const vs = testSite().lvs.virtual_servers[0];
  assert.deepEqual(compareVirtualServer(vs, parseIpvsadm(GOOD_IPVSADM)), []);
  const quiesced = parseIpvsadm(GOOD_IPVSADM.replace(/(172\.16\.14\.122:80\s+Masq\s+)1/, '$10'));
  assert.deepEqual(compareVirtualServer(vs, quiesced), ['real server 172.16.14.122:80 of web has weight 0: it is down (quiesced by the health check)']);
  const dr = parseIpvsadm(GOOD_IPVSADM.replace(/Masq/g, 'Route'));
  assert.match(compareVirtualServer(vs, dr)[0], /forwards with Route, the site file says nat/);
  assert.deepEqual(compareVirtualServer(vs, []), ['web (TCP 192.168.253.120:80) is not in the IPVS table']);
});

test('ip -o -4 addr lines give device, address and alias label', () => {
  const a = parseIpAddr(GOOD_IPADDR);
  assert.deepEqual(a[2], { dev: 'eth0', address: '192.168.253.120/24', label: 'eth0:120' });
  assert.equal(a.length, 4);
});

test('an HA pair checks the node the box says it is, without floating VIPs', () => {
  const site = testSite();
  site.lvs.vrrp = {
    interface: 'eth0', virtual_router_id: 51, auth_pass: 'x', advert_int: 1, nopreempt: false, notify: false, inside_address: null,
    nodes: {
      master: { hostname: 'lb1', priority: 100, interfaces: { eth0: { address: '192.168.253.251/24' } } },
      backup: { hostname: 'lb2', priority: 50, interfaces: { eth0: { address: '192.168.253.252/24' } } },
    },
  };
  const n = expectedNode(site, 'lb2');
  assert.equal(n.hostname, 'lb2');
  assert.equal(n.interfaces.eth0.address, '192.168.253.252/24');
  assert.deepEqual(n.staticVips, []);
  assert.equal(expectedNode(site, 'whatever', 'master').hostname, 'lb1');
});

test('without a site file or manifest the dependent checks are SKIP, not PASS', async () => {
  const ran: string[] = [];
  const run = async (command: string): Promise<CommandResult> => {
    ran.push(command);
    return { command, exitCode: 0, output: command.startsWith('uname') ? '2.6.29\n2.6.29\n' : command === 'pidof keepalived' ? '99\n' : command.startsWith('sysctl') ? 'net.ipv4.ip_forward = 1\n' : '', durationMs: 1 };
  };
  const res = await runChecks(run, { site: null, manifestId: null });
  const status = Object.fromEntries(res.map((c) => [c.name, c.status]));
  assert.equal(status['manifest id matches the build'], 'skip');
  assert.equal(status['hostname matches the site file'], 'skip');
  assert.equal(status['IPVS table matches the site file'], 'skip');
  assert.equal(status['depmod -a succeeds'], 'pass');
  assert.equal(status['running kernel matches the installed modules'], 'pass');
  assert.ok(ran.includes('depmod -a && sync') && ran.includes('dpkg --audit'));
});

test('a command that never finished fails its check and says so', async () => {
  const run = async (command: string): Promise<CommandResult> => ({ command, exitCode: null, output: '', durationMs: 1 });
  const res = await runChecks(run, { site: testSite(), manifestId: 'm' });
  assert.ok(res.filter((c) => c.status === 'fail').length >= 8);
  assert.match(res[0].evidence, /did not finish in time/);
});

/** The time zone check's command, run by the host's POSIX sh against files under `root` instead of /. */
async function runTimezoneCommand(root: string, zone: string): Promise<CommandResult> {
  const command = timezoneCommand(zone);
  const local = command.replace(/\/etc\//g, `${root}/etc/`).replace(/\/usr\/share\/zoneinfo\//g, `${root}/usr/share/zoneinfo/`);
  assert.notEqual(local, command);
  const r = spawnSync('sh', ['-c', local], { encoding: 'utf8', env: { PATH: process.env.PATH, TZ: `:${root}/etc/localtime` } });
  return { command, exitCode: r.status, output: r.stdout + r.stderr, durationMs: 1 };
}

test('time zone check: PASS when /etc/timezone names the zone and /etc/localtime is its file; FAIL says which is wrong; SKIP without timezone:', async () => {
  const root = await mkdtemp(join(tmpdir(), 'obsbuild-tz-check-'));
  try {
    await mkdir(join(root, 'etc'));
    await mkdir(join(root, 'usr/share/zoneinfo/Asia'), { recursive: true });
    await writeFile(join(root, 'usr/share/zoneinfo/Asia/Tokyo'), tzif('JST', 9 * 3600));
    await writeFile(join(root, 'usr/share/zoneinfo/UTC'), tzif('UTC', 0));
    const site = testSite();
    site.timezone = 'Asia/Tokyo';
    const check = async () => {
      const run = async (command: string): Promise<CommandResult> =>
        command === timezoneCommand('Asia/Tokyo') ? runTimezoneCommand(root, 'Asia/Tokyo') : { command, exitCode: 0, output: '', durationMs: 1 };
      const res = await runChecks(run, { site, manifestId: null });
      return res.find((x) => x.name.startsWith('time zone'))!;
    };

    await writeFile(join(root, 'etc/timezone'), 'Asia/Tokyo\n');
    await copyFile(join(root, 'usr/share/zoneinfo/Asia/Tokyo'), join(root, 'etc/localtime'));
    let c = await check();
    assert.equal(c.name, 'time zone is Asia/Tokyo');
    assert.equal(c.status, 'pass', c.evidence);
    assert.equal(c.evidence, '/etc/timezone and /etc/localtime are Asia/Tokyo; date shows JST');

    await writeFile(join(root, 'etc/timezone'), 'Etc/UTC\n');
    await copyFile(join(root, 'usr/share/zoneinfo/UTC'), join(root, 'etc/localtime'));
    c = await check();
    assert.equal(c.status, 'fail');
    assert.equal(c.evidence, '/etc/timezone says Etc/UTC; /etc/localtime is not a copy of /usr/share/zoneinfo/Asia/Tokyo; date shows UTC');

    await rm(join(root, 'etc/timezone'));
    await rm(join(root, 'usr/share/zoneinfo/Asia/Tokyo'));
    c = await check();
    assert.equal(c.status, 'fail');
    assert.match(c.evidence, /^\/etc\/timezone says \(nothing\); the box has no \/usr\/share\/zoneinfo\/Asia\/Tokyo; date shows/);

    const none = await runChecks(async (command) => ({ command, exitCode: 0, output: '', durationMs: 1 }), { site: { ...testSite(), timezone: null }, manifestId: null });
    const skip = none.find((x) => x.name.startsWith('time zone'))!;
    assert.equal(skip.status, 'skip');
    assert.equal(skip.command, null, 'nothing runs on the box');
    assert.match(skip.evidence, /sets no timezone/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/** runChecks with every other command answered well and the NTP/syslog commands by `answer`. */
async function serviceChecks(site: ReturnType<typeof testSite>, answer: (command: string) => string | null) {
  const run = async (command: string): Promise<CommandResult> => {
    const a = answer(command);
    if (a !== null) return { command, exitCode: 0, output: a, durationMs: 1 };
    const output = command.startsWith('uname') ? '2.6.29\n2.6.29\n' : command === 'pidof keepalived' ? '99\n' : command.startsWith('sysctl') ? 'net.ipv4.ip_forward = 1\n' : '';
    return { command, exitCode: 0, output, durationMs: 1 };
  };
  const res = await runChecks(run, { site, manifestId: null });
  return { ntp: res.find((c) => c.name.startsWith('NTP daemon'))!, syslog: res.find((c) => c.name.startsWith('syslog forwards'))! };
}

test('NTP: PASS with the config naming every server and ntpd running; FAIL names what is missing; SKIP without ntp:', async () => {
  const site = testSite();
  assert.equal((await serviceChecks(site, () => null)).ntp.status, 'skip');
  site.ntp = { servers: ['192.168.253.1', 'ntp.nict.jp'] };
  const good = await serviceChecks(site, (c) => (c.startsWith("grep '^server ' /etc/ntp.conf") ? 'server 192.168.253.1 iburst\nserver ntp.nict.jp iburst\n@@obsbuild-sep\n2345\n' : null));
  assert.equal(good.ntp.status, 'pass', good.ntp.evidence);
  assert.equal(good.ntp.name, "NTP daemon is running with the site's servers");
  assert.equal(good.ntp.evidence, 'ntpd pid 2345; /etc/ntp.conf names 192.168.253.1, ntp.nict.jp');
  const bad = await serviceChecks(site, (c) => (c.includes('/etc/ntp.conf') ? 'server 192.168.253.1 iburst\nserver 0.debian.pool.ntp.org\n@@obsbuild-sep\n' : null));
  assert.equal(bad.ntp.status, 'fail');
  assert.equal(bad.ntp.evidence, '/etc/ntp.conf does not name ntp.nict.jp; no ntpd process');
  // the virtual board runs chrony: its file and its process
  site.board = 'vobs';
  const vobs = await serviceChecks(site, (c) => (c.startsWith("grep '^server ' /etc/chrony/chrony.conf") && c.endsWith('pidof chronyd') ? 'server 192.168.253.1 iburst\nserver ntp.nict.jp iburst\n@@obsbuild-sep\n77\n' : null));
  assert.equal(vobs.ntp.status, 'pass', vobs.ntp.evidence);
});

test('syslog: PASS when the running daemon\'s file has every rule; FAIL with no daemon or a missing rule; SKIP without syslog:', async () => {
  const site = testSite();
  assert.equal((await serviceChecks(site, () => null)).syslog.status, 'skip');
  site.syslog = { servers: ['192.168.253.2', '192.168.253.5'], port: 5140, selector: 'local0.*' };
  const rsyslogOut = (pids: string, rules: string) => `# obsbuild\n${rules}@@obsbuild-sep\n@@obsbuild-sep\nrsyslogd ${pids}\nsyslogd\n`;
  const isSyslog = (c: string) => c.startsWith('cat /etc/rsyslog.d/obsbuild-remote.conf');
  const good = await serviceChecks(site, (c) => (isSyslog(c) ? rsyslogOut('512', 'local0.*\t@192.168.253.2:5140\nlocal0.*  @192.168.253.5:5140\n') : null));
  assert.equal(good.syslog.status, 'pass', good.syslog.evidence);
  assert.equal(good.syslog.name, 'syslog forwards to 192.168.253.2, 192.168.253.5');
  assert.match(good.syslog.evidence, /^rsyslogd is running; \/etc\/rsyslog\.d\/obsbuild-remote\.conf forwards local0\.\* to 192\.168\.253\.2:5140, 192\.168\.253\.5:5140$/);
  const stopped = await serviceChecks(site, (c) => (isSyslog(c) ? rsyslogOut('', 'local0.*\t@192.168.253.2:5140\nlocal0.*\t@192.168.253.5:5140\n') : null));
  assert.equal(stopped.syslog.status, 'fail');
  assert.match(stopped.syslog.evidence, /^no syslog daemon is running \(rsyslogd, syslogd\)$/);
  const wrongPort = await serviceChecks(site, (c) => (isSyslog(c) ? rsyslogOut('512', 'local0.*\t@192.168.253.2:514\nlocal0.*\t@192.168.253.5:5140\n') : null));
  assert.equal(wrongPort.syslog.status, 'fail');
  assert.match(wrongPort.syslog.evidence, /has no rule "local0\.\* @host" for 192\.168\.253\.2$/);
  // sysklogd: the rule (port 514 implied) is in syslog.conf
  site.syslog = { servers: ['192.168.253.2'], port: 514, selector: '*.*' };
  const sk = await serviceChecks(site, (c) => (isSyslog(c) ? '@@obsbuild-sep\n*.*\t@192.168.253.2\n@@obsbuild-sep\nrsyslogd\nsyslogd 301\n' : null));
  assert.equal(sk.syslog.status, 'pass', sk.syslog.evidence);
  assert.match(sk.syslog.evidence, /^syslogd is running; \/etc\/syslog\.conf forwards/);
});
