/**
 * An HA pair on two virtual boards (QEMU, TCG), through the command a user runs:
 * `obsbuild vm --check --site board/vobs/site-ha.yaml`, the guide's NAT network with two directors sharing
 * the virtual address by VRRP (scenarios 003/004 in docs/scenarios.md). Each board installs from its own stick and passes
 * `obsbuild console --node master|backup`; the boards' eth0s share one virtual wire and their eth1s another
 * (QEMU socket links on 127.0.0.1). The client and the real servers live in network namespaces inside the
 * backup, so they survive the master's death: traffic first flows through the master, then the master is
 * frozen (a dead box) and the backup must take the addresses and carry the traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_VOBS_SITE } from '../../src/vobs/flow.js';
import { firstVerdictProblems, runVmCheck, vobsE2e } from './vobs-harness.js';

const HA_SITE = DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-ha.yaml');
const REAL_SERVERS = ['rs1', 'rs2', 'rs3'];

const e2e = vobsE2e('vobs-ha', async () => {});

test('obsbuild vm --check, HA pair: both boards install, traffic via the master, the master dies, the backup takes over', { timeout: 1_200_000 }, async () => {
  const { exitCode, report } = await e2e.timed('obsbuild vm --check --site site-ha.yaml', () => runVmCheck(HA_SITE, e2e.work, e2e.log));
  for (const b of report.boards) e2e.log(`${b.hostname} (${b.role}): from power-on ${Object.entries(b.marks).map(([k, v]) => `${k} ${v} s`).join(', ')}`);

  assert.deepEqual(report.boards.map((b) => [b.hostname, b.role]), [['lb1', 'master'], ['lb2', 'backup']]);
  // Each board its own SSH path (QEMU's user network behind a switch on the shared eth0 wire, which must
  // not disturb the pair's traffic or VRRP).
  const sshPorts = report.boards.map((b) => b.sshPort);
  assert.ok(sshPorts.every((p) => typeof p === 'number' && p > 0), `ssh ports ${sshPorts.join(', ')}`);
  assert.equal(new Set(sshPorts).size, 2);
  for (const b of report.boards) assert.ok(b.marks['ssh ready'] !== undefined, `${b.hostname}: sshd answered on its forward`);
  for (const b of report.boards) {
    assert.equal(b.installFailed, undefined, `${b.hostname}: the installer reported a failure`);
    assert.deepEqual(firstVerdictProblems(b), [], `${b.hostname}: console checks that did not pass`);
  }

  const held = Object.fromEntries(Object.entries(report.floatingBeforeFailover ?? {}).map(([host, a]) => [host, [...a].sort()]));
  assert.deepEqual(held, { lb1: ['172.16.14.250', '192.168.253.120'], lb2: [] }, 'the master holds the virtual and inside addresses, the backup neither');
  const [viaMaster, viaBackup] = report.traffic;
  e2e.log(`answers via ${viaMaster?.director}: ${viaMaster?.answers.join(' ')}; via ${viaBackup?.director}: ${viaBackup?.answers.join(' ')}`);
  assert.equal(viaMaster.director, 'lb1');
  assert.deepEqual([...new Set(viaMaster.answers)].sort(), REAL_SERVERS, `through the master: ${viaMaster.answers.join(' ')}`);
  assert.ok(viaMaster.passed);

  assert.notEqual(report.failoverSeconds, null, 'the backup did not take the virtual and inside addresses within 30 s');
  e2e.timings['backup took over after the master froze'] = Math.round(report.failoverSeconds! * 10) / 10;
  // advert_int 1: keepalived declares the master dead after 3 adverts plus skew, about 3.6 s
  assert.ok(report.failoverSeconds! <= 10, `failover took ${report.failoverSeconds} s`);
  assert.equal(viaBackup?.director, 'lb2');
  assert.deepEqual([...new Set(viaBackup.answers)].sort(), REAL_SERVERS, `through the backup: ${viaBackup.answers.join(' ')}`);
  assert.ok(viaBackup.passed);

  assert.equal(report.finalVerdictExitCode, 0, "the backup's final verdict");
  assert.equal(exitCode, 0);
});
