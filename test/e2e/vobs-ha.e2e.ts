/**
 * An HA pair on two virtual boards (QEMU, TCG), through the command a user runs:
 * `obsbuild vm --check --site board/vobs/site-ha.yaml`, the guide's NAT network with two directors sharing
 * the virtual address by VRRP (scenarios 003/004 in docs/scenarios.md). Each board installs from its own stick and passes
 * `obsbuild console --node master|backup`; the boards' eth0s share one virtual wire and their eth1s another
 * (QEMU socket links on 127.0.0.1). The client and the real servers live in network namespaces inside the
 * backup, so they survive the master's death: traffic first flows through the master, then the master is
 * frozen (a dead box) and the backup must take the addresses and carry the traffic.
 * Then day two on the pair: the master comes back, and `obsbuild apply --inventory` changes the scheduler on
 * both nodes, backup first, while requests go through the virtual address the whole time; at most one
 * failover's worth of them may fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_VOBS_SITE } from '../../src/vobs/flow.js';
import { loadSite } from '../../src/site/load.js';
import { openBoxShell } from '../../src/daytwo/transport.js';
import type { BoxShell } from '../../src/remote/box-shell.js';
import { parseIpAddr } from '../../src/console/box-output.js';
import { requestOnce, trafficPlan } from '../../src/vobs/traffic.js';
import type { VmReport, VmSession } from '../../src/vobs/vm-run.js';
import { runCli } from '../helpers/cli.js';
import { firstVerdictProblems, guestOverBoxShell, keptVobsBoards, vobsE2e } from './vobs-harness.js';

const HA_SITE = DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-ha.yaml');
const REAL_SERVERS = ['rs1', 'rs2', 'rs3'];

let session: VmSession | undefined;
const shells: BoxShell[] = [];
let key = '';
let site = '';

const e2e = vobsE2e('vobs-ha', async () => {
  for (const s of shells) await s.close().catch(() => undefined);
  await session?.powerOff().catch(() => undefined);
});


test('obsbuild vm --check, HA pair: both boards install, traffic via the master, the master dies, the backup takes over', { timeout: 1_200_000 }, async () => {
  // The guide's pair with an admin key for root (site file root.authorized_keys), for the day-two test below.
  key = join(e2e.work, 'admin_rsa');
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', 'ha-e2e', '-f', key]);
  const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
  site = join(e2e.work, 'site-ha.yaml');
  await writeFile(site, (await readFile(HA_SITE, 'utf8')).replace(/authorized_keys: \[\]/, `authorized_keys: [${JSON.stringify(pub)}]`));
  session = await e2e.timed('obsbuild vm --check --keep, HA site', () => keptVobsBoards(e2e, site));
  const report: VmReport = session.report;
  const exitCode = report.exitCode;
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

test('apply --inventory on the pair: backup first, then the master, traffic through the virtual address throughout', { timeout: 900_000 }, async (t) => {
  const master = session?.boards.find((b) => b.role === 'master');
  const backup = session?.boards.find((b) => b.role === 'backup');
  if (!master?.sshPort || !backup?.sshPort) return t.skip('no kept pair');
  const out = join(e2e.work, 'out');
  const ssh = async (port: number, hostname: string) => {
    const shell = await openBoxShell(
      { kind: 'ssh', target: { user: 'root', host: '127.0.0.1', port }, knownHostsFile: join(out, hostname, 'known_hosts'), hostKeyAlias: hostname, acceptNewHostKey: true, identityFile: key, configFile: 'none' },
      e2e.log,
    );
    shells.push(shell);
    return guestOverBoxShell(shell);
  };
  // The master was frozen by the failover test: it comes back and (no nopreempt) takes the addresses again.
  await master.vm.cont();
  const onMaster = await ssh(master.sshPort, master.hostname);
  const onBackup = await ssh(backup.sshPort, backup.hostname);
  const vip = '192.168.253.120';
  const back = await e2e.timed('master back and holding the virtual address', async () => {
    for (let i = 0; i < 60; i++) {
      if (parseIpAddr(await onMaster.must('ip -o -4 addr show')).some((a) => a.address.split('/')[0] === vip)) return true;
      await new Promise((r) => setTimeout(r, 1000));
    }
    return false;
  });
  assert.ok(back, 'the master took the virtual address back');
  const plan = trafficPlan((await loadSite(site)).site);

  // Requests from the client namespace (inside the backup) through the virtual address, one after another,
  // from before the apply starts until it has ended on both nodes.
  const answers: (string | null)[] = [];
  let applying = true;
  const traffic = (async () => {
    while (applying) answers.push(await requestOnce(onBackup, plan));
  })();
  await new Promise((r) => setTimeout(r, 3000));
  const changed = join(e2e.work, 'site-ha-rr.yaml');
  await writeFile(changed, (await readFile(site, 'utf8')).replace('scheduler: wlc ', 'scheduler: rr  '));
  const inventory = join(e2e.work, 'pair.yaml');
  await writeFile(
    inventory,
    [
      'boxes:',
      `  - { name: ${master.hostname}, site: ${changed}, node: master, host: "root@127.0.0.1:${master.sshPort}", identity: ${key} }`,
      `  - { name: ${backup.hostname}, site: ${changed}, node: backup, host: "root@127.0.0.1:${backup.sshPort}", identity: ${key} }`,
      '',
    ].join('\n'),
  );
  const json = join(e2e.work, 'apply-pair.json');
  const r = await e2e.timed('apply --inventory (pair, backup first)', () =>
    runCli(['apply', '--inventory', inventory, '--yes', '--out', out, '--json', json], { timeout: 600_000, env: { OBSBUILD_ROOT_PASSWORD: 'root' } }),
  );
  await new Promise((r2) => setTimeout(r2, 3000));
  applying = false;
  await traffic;
  e2e.log(`apply --inventory: exit ${r.exitCode}\n${r.stdout}`);
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const summary = JSON.parse(await readFile(json, 'utf8')) as { boxes: { name: string; result: string; startedAt: string; endedAt: string }[] };
  const at = Object.fromEntries(summary.boxes.map((b) => [b.name, b]));
  assert.ok(at[backup.hostname].endedAt <= at[master.hostname].startedAt, 'the backup was applied and verified before the master was touched');
  for (const g of [onMaster, onBackup]) assert.match(await g.must('ipvsadm -L -n'), /TCP +192\.168\.253\.120:80 rr/);
  const failed = answers.filter((a) => a === null).length;
  e2e.timings['requests during the pair apply'] = answers.length;
  e2e.timings['failed requests during the pair apply'] = failed;
  e2e.log(`requests during the apply: ${answers.length}, failed ${failed}: ${answers.map((a) => a ?? 'X').join(' ')}`);
  assert.ok(answers.length >= 10, `only ${answers.length} requests were sent`);
  // At most one failover's worth: VRRP declares a master dead after 3 adverts (about 3.6 s at advert_int 1),
  // and a request that fails takes up to nc's 3 s timeout, so about two requests; a margin for the emulation.
  assert.ok(failed <= 4, `${failed} of ${answers.length} requests failed during the apply`);
});
