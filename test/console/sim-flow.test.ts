import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, goodBox, makeBoxRoot, sleep, waitFor, GOOD_IPVSADM } from './simulator.js';
import { runAgainst } from './harness.js';

test('follows boot, install, reboot and first boot, logs in through kernel chatter and passes every check', async () => {
  const sim = await Sim.start();
  try {
    const box = goodBox();
    const root = await makeBoxRoot(sim.dir, box);
    const { report, transcript } = await runAgainst(sim, async ({ board }) => {
      await board.boot();
      await board.installer(8);
      await sleep(200); // the user power-cycles the box
      await board.boot();
      await board.firstboot(box.manifestId);
      await board.login({ hostname: 'obs600', password: 'root', root, kernelChatter: true });
    });
    assert.equal(report.failure, null, JSON.stringify(report.failure));
    assert.equal(report.ok, true);
    const names = report.phases.map((p) => p.name);
    assert.deepEqual(names, ['waiting', 'boot', 'installer', 'install-done', 'reboot', 'first-boot', 'login', 'shell', 'checks']);
    assert.ok(report.phases.every((p) => p.outcome === 'done' && typeof p.durationMs === 'number'));
    const install = report.steps.filter((s) => s.script === 'install' && s.n > 0);
    assert.equal(install.length, 8);
    assert.equal(install[3].name, 'extracting rootfs');
    assert.equal(report.steps.filter((s) => s.script === 'firstboot' && s.outcome === 'ok').length, 7);
    assert.equal(report.manifestIdSeen, box.manifestId);
    assert.equal(report.reboots, 1);
    assert.equal(report.checks.length, 13);
    // the test site sets no ntp: and no syslog:, so those two checks are SKIP; every other one passes
    for (const c of report.checks) assert.equal(c.status, /^(NTP daemon|syslog forwards)/.test(c.name) ? 'skip' : 'pass', `${c.name}: ${c.evidence}`);
    // busybox sh, cmp and date in the chroot, reading the stand-in's TZif file
    assert.equal(report.checks.find((c) => c.name === 'time zone is Asia/Tokyo')?.evidence, '/etc/timezone and /etc/localtime are Asia/Tokyo; date shows JST');
    const ipvs = report.checks.find((c) => c.name.startsWith('IPVS'))!;
    assert.equal(ipvs.command, 'ipvsadm -L -n');
    assert.equal(ipvs.exitCode, 0);
    assert.equal(ipvs.output, GOOD_IPVSADM);
    // the transcript keeps the raw escape sequences and marks what we typed, masking the password
    assert.ok(transcript.includes('root@obs600:~# \x1b[6n'));
    assert.ok(transcript.includes('\x1b[?2004h'));
    assert.match(transcript, /^\d{4}-\d\d-\d\dT[\d:.]+Z \+ *\d+\.\d{3} \| obsbuild-install: \[4\/8\] extracting rootfs/m);
    assert.match(transcript, / >> \(password\)/);
    assert.doesNotMatch(transcript, />> root\r?\n[^\n]*>> root/);
  } finally {
    await sim.stop();
  }
});

test('on an installed box (--from login) the checks report what is wrong, with evidence, and the run fails', async () => {
  const sim = await Sim.start();
  try {
    const box = {
      ...goodBox('m-other'),
      ipForward: 0,
      modprobeExit: 1,
      dpkgAudit: 'The following packages are only half configured:\n keepalived\n',
      ipvsadm: GOOD_IPVSADM.replace(/^.*172\.16\.14\.123.*\n/m, '').replace('wlc', 'rr'),
      timezone: 'Etc/UTC',
    };
    const root = await makeBoxRoot(sim.dir, box);
    const { report } = await runAgainst(
      sim,
      async ({ board }) => {
        await board.readLine(true); // the Enter obsbuild sends to provoke a prompt
        await board.login({ hostname: 'obs600', password: 'root', root });
      },
      { mode: 'login' },
    );
    assert.equal(report.failure?.class, 'check-failed');
    const by = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    assert.equal(by['depmod -a succeeds'].status, 'pass');
    assert.equal(by['modprobe ip_vs works'].status, 'fail');
    assert.equal(by['modprobe ip_vs works'].exitCode, 1);
    assert.match(by['modprobe ip_vs works'].evidence, /exit status 1: FATAL: Module ip_vs not found/);
    assert.equal(by['manifest id matches the build'].status, 'fail');
    assert.match(by['manifest id matches the build'].evidence, /box has m-other, the build is m-0123456789ab/);
    assert.equal(by['dpkg --audit reports nothing'].status, 'fail');
    assert.equal(by['net.ipv4.ip_forward = 1'].status, 'fail');
    assert.equal(by['hostname matches the site file'].status, 'pass');
    assert.equal(by['interface addresses match the site file'].status, 'pass');
    const ipvs = by['IPVS table matches the site file'];
    assert.equal(ipvs.status, 'fail');
    assert.match(ipvs.evidence, /scheduler rr, the site file says wlc/);
    assert.equal(by['time zone is Asia/Tokyo'].status, 'fail');
    assert.match(by['time zone is Asia/Tokyo'].evidence, /^\/etc\/timezone says Etc\/UTC; date shows JST$/);
    assert.match(ipvs.evidence, /real server 172\.16\.14\.123:80 of web is missing: it is down/);
    assert.deepEqual(report.phases.map((p) => p.name), ['login', 'shell', 'checks']);
  } finally {
    await sim.stop();
  }
});

test('an adapter unplugged mid-install is reopened, the gap is marked, and the run goes on', async () => {
  const sim = await Sim.start();
  try {
    const box = goodBox();
    const root = await makeBoxRoot(sim.dir, box);
    const { report, transcript } = await runAgainst(sim, async (s, transport) => {
      await s.board.boot();
      await s.board.say(['obsbuild-install: [1/4] checking files', 'obsbuild-install: [2/4] partitioning CF']);
      await s.unplug(800);
      // bytes sent while nobody holds the line are lost, as with a real adapter; wait for the reopen
      await waitFor(() => transport.connected, 5000, 'console to reopen the port');
      await s.board.say(['obsbuild-install: [3/4] making filesystems', 'obsbuild-install: [4/4] extracting rootfs', 'obsbuild-install: done']);
      await s.board.boot();
      await s.board.firstboot(box.manifestId);
      await s.board.login({ hostname: 'obs600', password: 'root', root });
    });
    assert.equal(report.failure, null, JSON.stringify(report.failure));
    assert.equal(report.gaps.length, 1);
    assert.ok(report.gaps[0].ms >= 700, `gap ${report.gaps[0].ms} ms`);
    assert.match(transcript, /serial port lost: .*\n.*\[disconnected \d+\.\d s: no bytes could be read/);
    assert.equal(report.steps.filter((s) => s.script === 'install' && s.n > 0).length, 4);
  } finally {
    await sim.stop();
  }
});

test('a login prompt read in one chunk with the kernel message after it does not stall the login', async () => {
  const sim = await Sim.start();
  try {
    const box = goodBox();
    const root = await makeBoxRoot(sim.dir, box);
    const started = Date.now();
    const { report } = await runAgainst(sim, async ({ board }) => {
      await board.boot();
      await board.installer(8);
      await sleep(200);
      await board.boot();
      await board.firstboot(box.manifestId);
      await board.login({ hostname: 'obs600', password: 'root', root, kernelChatter: 'same-chunk' });
    });
    assert.equal(report.failure, null, JSON.stringify(report.failure));
    assert.equal(report.ok, true);
    assert.ok(Date.now() - started < 60_000, 'logged in by provoking a new prompt, not after a budget ran out');
  } finally {
    await sim.stop();
  }
});
