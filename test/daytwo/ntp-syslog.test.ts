/**
 * Day two with ntp: and syslog:: verify asks the box's dpkg which syslog daemon runs and compares the same
 * files the build made (no drift on a box as installed, drift named when edited); apply's plan restarts the
 * daemon whose config changed; the restart activation proves the daemon came back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NTPD_CONF_PATH, RSYSLOG_FORWARD_PATH, SHADOW_PATH, SYSLOG_CONF_PATH } from '../../src/contracts/box-paths.js';
import { fileBytes } from '../../src/contracts/generated-file.js';
import { runChecks } from '../../src/console/checks.js';
import { describeActivation, runActivation } from '../../src/daytwo/activation.js';
import { desiredNode } from '../../src/daytwo/desired.js';
import { planApply, type BoxFileReading } from '../../src/daytwo/plan.js';
import { DRIFT_CHECK, formatVerifyReport, verifyBox } from '../../src/daytwo/verify.js';
import { SYSLOG_PROBE } from '../../src/image/syslog.js';
import type { BoxShell, RunResult } from '../../src/remote/box-shell.js';
import { parseSite, type LoadedSite } from '../../src/site/load.js';
import { sha256Hex } from '../../src/util/hash.js';
import { repoRoot } from '../helpers/cli.js';
import { BOX_SHADOW, FakeBox, goodAnswers, GOOD_IPADDR_SINGLE, GOOD_IPVSADM_SINGLE } from './fake-box.js';

const NAT = readFileSync(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), 'utf8');
const SERVICES = 'ntp:\n  servers: [192.168.253.1]\nsyslog:\n  servers: [192.168.253.2]\n';
const loaded = parseSite(NAT + SERVICES, 'obsbuild.yaml');
const DPKG = { rsyslog: 'Package: rsyslog\nStatus: install ok installed\n\n', sysklogd: 'Package: sysklogd\nStatus: install ok installed\n\n' };
const OPERATOR_SYSLOG_CONF = 'auth,authpriv.*\t/var/log/auth.log\n*.*;auth,authpriv.none\t-/var/log/syslog\n';

/** The check commands for this site (they depend only on the site), answered as a healthy box would. */
async function serviceAnswers(l: LoadedSite, daemon: 'rsyslog' | 'sysklogd', files: Map<string, Buffer>): Promise<Map<string, RunResult>> {
  const commands: string[] = [];
  await runChecks(async (command) => (commands.push(command), { command, exitCode: 0, output: '', durationMs: 0 }), { site: l.site, manifestId: null, readOnly: true });
  const ntp = commands.find((c) => c.startsWith("grep '^server '"))!;
  const syslog = commands.find((c) => c.startsWith('cat /etc/rsyslog.d/'))!;
  const text = (p: string) => files.get(p)?.toString('utf8') ?? '';
  return new Map<string, RunResult>([
    [SYSLOG_PROBE, { exitCode: 0, stdout: DPKG[daemon] }],
    [ntp, { exitCode: 0, stdout: `${text(NTPD_CONF_PATH).split('\n').filter((x) => x.startsWith('server ')).join('\n')}\n@@obsbuild-sep\n4242\n` }],
    [syslog, { exitCode: 0, stdout: `${text(RSYSLOG_FORWARD_PATH)}@@obsbuild-sep\n${text(SYSLOG_CONF_PATH).split('\n').filter((x) => x.includes('@')).join('\n')}\n@@obsbuild-sep\n${daemon === 'rsyslog' ? 'rsyslogd 301\nsyslogd\n' : 'rsyslogd\nsyslogd 301\n'}` }],
  ]);
}

async function installedBox(daemon: 'rsyslog' | 'sysklogd'): Promise<FakeBox> {
  const files = new Map<string, Buffer>([[SHADOW_PATH, Buffer.from(BOX_SHADOW)]]);
  if (daemon === 'sysklogd') files.set(SYSLOG_CONF_PATH, Buffer.from(OPERATOR_SYSLOG_CONF));
  const base = { shadow: BOX_SHADOW, dpkgStatus: DPKG[daemon], syslogConf: files.get(SYSLOG_CONF_PATH)?.toString('utf8') };
  for (const f of desiredNode(loaded, undefined, base).files) files.set(f.path, fileBytes(f));
  const answers = goodAnswers({ hostname: 'obs600', ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE });
  for (const [c, r] of await serviceAnswers(loaded, daemon, files)) answers.set(c, r);
  return new FakeBox(files, answers);
}

test('rsyslog box as installed: ntp.conf and the rsyslog rule compared, no drift, the NTP and syslog checks pass', async () => {
  const box = await installedBox('rsyslog');
  const r = await verifyBox(box, { loaded });
  assert.equal(r.passed, true, formatVerifyReport(r));
  for (const path of [NTPD_CONF_PATH, RSYSLOG_FORWARD_PATH]) assert.equal(r.drift.find((d) => d.path === path)?.state, 'same', path);
  assert.ok(!r.drift.some((d) => d.path === SYSLOG_CONF_PATH), 'sysklogd\'s file is not ours on an rsyslog box');
  assert.equal(r.checks.find((c) => c.name.startsWith('NTP daemon'))?.status, 'pass');
  assert.equal(r.checks.find((c) => c.name.startsWith('syslog forwards'))?.status, 'pass');
  assert.ok(box.runs.some((c) => c.includes(SYSLOG_PROBE)), 'the box\'s dpkg was asked');
});

test('hand edits are drift: ntp.conf changed and the rsyslog rule deleted', async () => {
  const box = await installedBox('rsyslog');
  box.files.set(NTPD_CONF_PATH, Buffer.from(box.files.get(NTPD_CONF_PATH)!.toString().replace('192.168.253.1', '10.9.9.9')));
  box.files.delete(RSYSLOG_FORWARD_PATH);
  const r = await verifyBox(box, { loaded });
  assert.equal(r.passed, false);
  const ntp = r.drift.find((d) => d.path === NTPD_CONF_PATH)!;
  assert.equal(ntp.state, 'drifted');
  assert.match(ntp.diff!, /^-server 10\.9\.9\.9 iburst$/m);
  assert.match(ntp.diff!, /^\+server 192\.168\.253\.1 iburst$/m);
  assert.equal(r.drift.find((d) => d.path === RSYSLOG_FORWARD_PATH)?.state, 'missing');
  assert.match(r.checks.find((c) => c.name === DRIFT_CHECK)!.evidence, /differ: \/etc\/ntp\.conf; missing: \/etc\/rsyslog\.d\/obsbuild-remote\.conf/);
});

test('sysklogd box: the operator\'s own syslog.conf lines are theirs; only obsbuild\'s block is compared', async () => {
  const box = await installedBox('sysklogd');
  const installed = box.files.get(SYSLOG_CONF_PATH)!.toString();
  assert.ok(installed.startsWith(OPERATOR_SYSLOG_CONF) && installed.includes('*.*\t@192.168.253.2\n'));
  let r = await verifyBox(box, { loaded });
  assert.equal(r.passed, true, formatVerifyReport(r));
  assert.equal(r.drift.find((d) => d.path === SYSLOG_CONF_PATH)?.state, 'same');
  assert.ok(!r.drift.some((d) => d.path === RSYSLOG_FORWARD_PATH));
  // a line of their own added above the block: still as the site says
  box.files.set(SYSLOG_CONF_PATH, Buffer.from(`mail.*\t-/var/log/mail.log\n${installed}`));
  r = await verifyBox(box, { loaded });
  assert.equal(r.drift.find((d) => d.path === SYSLOG_CONF_PATH)?.state, 'same');
  // the block removed by hand: drift, and the diff puts it back
  box.files.set(SYSLOG_CONF_PATH, Buffer.from(OPERATOR_SYSLOG_CONF));
  r = await verifyBox(box, { loaded });
  const d = r.drift.find((x) => x.path === SYSLOG_CONF_PATH)!;
  assert.equal(d.state, 'drifted');
  assert.match(d.diff!, /^\+\*\.\*\t@192\.168\.253\.2$/m);
});

test('a box with neither syslog daemon: verify says so in one line naming the box', async () => {
  const box = await installedBox('rsyslog');
  box.answers.set(SYSLOG_PROBE, { exitCode: 0, stdout: 'Package: rsyslog\nStatus: deinstall ok config-files\n\n' });
  await assert.rejects(verifyBox(box, { loaded, target: 'ssh root@lb' }), /^UserError: ssh root@lb: syslog: forwarding needs rsyslog or sysklogd, and dpkg's status shows neither installed$/);
});

test('apply plan: a changed ntp.conf restarts ntpd, a changed rule restarts rsyslog (before the balancer)', () => {
  const before = desiredNode(parseSite(NAT + SERVICES.replace('192.168.253.1', '10.9.9.9').replace('192.168.253.2', '10.9.9.8'), 'obsbuild.yaml'), undefined, { shadow: BOX_SHADOW, dpkgStatus: DPKG.rsyslog });
  const after = desiredNode(loaded, undefined, { shadow: BOX_SHADOW, dpkgStatus: DPKG.rsyslog });
  const box = new Map<string, BoxFileReading | null>();
  for (const f of before.files) box.set(f.path, { sha256: sha256Hex(fileBytes(f)), size: fileBytes(f).length, bytes: fileBytes(f), truncated: false });
  const plan = planApply(after, box, { transport: 'serial' });
  assert.deepEqual(plan.changes.map((c) => [c.path, c.activation.kind]), [[NTPD_CONF_PATH, 'ntpd-restart'], [RSYSLOG_FORWARD_PATH, 'rsyslog-restart']]);
  assert.deepEqual(plan.activations.map((a) => a.kind), ['rsyslog-restart', 'ntpd-restart']);
  assert.equal(describeActivation({ kind: 'ntpd-restart' }), '/etc/init.d/ntp restart; then ntpd must be running');
  assert.equal(describeActivation({ kind: 'sysklogd-restart' }), '/etc/init.d/sysklogd restart; then syslogd must be running');
});

test('apply plan: ntp: added to a box installed without it is refused (no NTP daemon to restart), naming the reinstall', () => {
  const installed = desiredNode(parseSite(NAT, 'obsbuild.yaml'), undefined, { shadow: BOX_SHADOW, dpkgStatus: DPKG.rsyslog });
  const box = new Map<string, BoxFileReading | null>();
  for (const f of installed.files) box.set(f.path, { sha256: sha256Hex(fileBytes(f)), size: fileBytes(f).length, bytes: fileBytes(f), truncated: false });
  const plan = planApply(desiredNode(parseSite(NAT + 'ntp:\n  servers: [192.168.253.1]\n', 'obsbuild.yaml'), undefined, { shadow: BOX_SHADOW, dpkgStatus: DPKG.rsyslog }), box, { transport: 'serial' });
  assert.deepEqual(plan.refusals.map((r) => r.path), [NTPD_CONF_PATH]);
  assert.match(plan.refusals[0].reason, /no NTP daemon \(ntp: was added after the install\)/);
  assert.match(plan.refusals[0].instead, /reinstall/);
  // a box that has the file (the daemon installed) gets the change and a restart as before
  box.set(NTPD_CONF_PATH, { sha256: sha256Hex('old\n'), size: 4, bytes: Buffer.from('old\n'), truncated: false });
  const again = planApply(desiredNode(loaded, undefined, { shadow: BOX_SHADOW, dpkgStatus: DPKG.rsyslog }), box, { transport: 'serial' });
  assert.equal(again.refusals.length, 0);
});

test('restart activation: the init script\'s restart, then the daemon must be running', async () => {
  const shell = (stdout: string, exitCode = 0): BoxShell & { ran: string[] } => {
    const ran: string[] = [];
    return { ran, run: async (c) => (ran.push(c), { exitCode, stdout }), putFile: async () => {}, close: async () => {} };
  };
  const ctx = { site: loaded.site, role: 'single' as const, previousKeepalivedConf: null };
  const up = shell('Restarting NTP server: ntpd.\n@@obsbuild-sep\n2345\n');
  const ok = await runActivation(up, { kind: 'ntpd-restart' }, ctx);
  assert.deepEqual([ok.ok, ok.detail], [true, 'ntpd restarted (pid 2345)']);
  assert.equal(up.ran[0], "'/etc/init.d/ntp' restart 2>&1 && sleep 1 && echo @@obsbuild-sep && pidof ntpd");
  const died = await runActivation(shell('Restarting system log daemon: rsyslogd.\n@@obsbuild-sep\n', 1), { kind: 'rsyslog-restart' }, ctx);
  assert.deepEqual([died.ok, died.detail], [false, 'rsyslogd is not running after /etc/init.d/rsyslog restart']);
  const failed = await runActivation(shell('chronyd: Could not parse config\n', 1), { kind: 'chrony-restart' }, ctx);
  assert.deepEqual([failed.ok, failed.detail], [false, '/etc/init.d/chrony restart failed: chronyd: Could not parse config']);
});
