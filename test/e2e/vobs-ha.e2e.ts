/**
 * An HA pair on two virtual boards (QEMU, TCG): the guide's NAT network with two directors sharing the
 * virtual address by VRRP (board/vobs/site-ha.yaml, as in seeds 003/004). Each board installs from its own
 * stick and passes `obsbuild console --node master|backup`; the boards' eth0 share one virtual wire and their
 * eth1 another (QEMU socket links on 127.0.0.1). The client and the real servers live in network namespaces
 * inside the backup, so they survive the master's death: traffic first flows through the master, then the
 * master is frozen (a dead box) and the backup must take the addresses and carry the traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadSite } from '../../src/site/load.js';
import { bootAndVerify, buildVobsImage, DEFAULT_VOBS_SITE, type BootResult } from '../../src/vobs/flow.js';
import { openGuestShell, type GuestShell } from '../../src/vobs/guest-shell.js';
import { requests, setUpTrafficNetwork, trafficPlan, waitForIpvs, type TrafficPlan } from '../../src/vobs/traffic.js';
import type { BoardLink } from '../../src/vobs/qemu.js';
import { notPassed, onlyRealServersDown, readConsoleReport, vobsE2e } from './vobs-harness.js';

const HA_SITE = DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-ha.yaml');

/** A TCP port free on 127.0.0.1 right now (the master's QEMU listens on it for the backup's link). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * What kept a board from a full pass, other than real servers being down (none exist until the traffic
 * test makes them). A console that gave up early says why, with the last lines it saw.
 */
async function failedChecks(boot: BootResult, role: string): Promise<string[]> {
  const report = await readConsoleReport(boot.consoleJson);
  log(`${role}: console phases ${report.phases.map((p) => `${p.name} ${((p.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ')}`);
  log(`${role}: from power-on ${Object.entries(boot.marks).map(([k, v]) => `${k} ${v} s`).join(', ')}`);
  // check-failed is a full verdict (judged below: real servers may be down); any other failure is not.
  if ((report.failure && report.failure.class !== 'check-failed') || report.checks.length < 8) {
    log(`${role}: console failure ${report.failure?.class}: ${report.failure?.message}; last lines:\n# ${report.failure?.lastLines.join('\n# ')}`);
    return [`${role}: the console gave no full verdict (${report.checks.length} checks): ${report.failure?.class ?? '?'}: ${report.failure?.message ?? ''}`];
  }
  return notPassed(report.checks, onlyRealServersDown);
}

async function addresses(shell: GuestShell): Promise<string> {
  return shell.must('ip -o -4 addr show');
}

let master: BootResult | undefined;
let backup: BootResult | undefined;
let masterShell: GuestShell | undefined;
let backupShell: GuestShell | undefined;
let plan: TrafficPlan;

const e2e = vobsE2e('vobs-ha', async () => {
  await masterShell?.close().catch(() => undefined);
  await backupShell?.close().catch(() => undefined);
  await master?.vm.quit().catch(() => undefined);
  await backup?.vm.quit().catch(() => undefined);
});
const { log, timed } = e2e;

test('both boards of the pair install from their sticks and pass obsbuild console --node master|backup', { timeout: 900_000 }, async () => {
  const [masterImage, backupImage] = await timed('obsbuild image (both nodes)', () =>
    buildVobsImage({ siteFile: HA_SITE, outDir: join(e2e.work, 'out'), standin: e2e.standin, log, stdio: 'pipe' }),
  );
  assert.deepEqual([masterImage.role, backupImage.role], ['master', 'backup']);
  assert.deepEqual([masterImage.hostname, backupImage.hostname], ['lb1', 'lb2']);
  const ports = [await freePort(), await freePort()];
  const links = (mode: BoardLink['mode']): BoardLink[] => [{ hub: 0, port: ports[0], mode }, { hub: 1, port: ports[1], mode }];

  master = await timed('master: install, power-cycle, first boot, console checks', () =>
    bootAndVerify({ image: masterImage, standin: e2e.standin, log, check: true, keepRunning: true, consoleStdio: 'pipe', machine: { boardIndex: 0, links: links('listen') } }),
  );
  assert.equal(master.installFailed, undefined, 'the master installer reported a failure');
  assert.deepEqual(await failedChecks(master, 'master'), [], 'master: console checks that did not pass');

  backup = await timed('backup: install, power-cycle, first boot, console checks', () =>
    bootAndVerify({ image: backupImage, standin: e2e.standin, log, check: true, keepRunning: true, consoleStdio: 'pipe', machine: { boardIndex: 1, links: links('connect') } }),
  );
  assert.equal(backup.installFailed, undefined, 'the backup installer reported a failure');
  assert.deepEqual(await failedChecks(backup, 'backup'), [], 'backup: console checks that did not pass');
});

test('the master holds the virtual and inside addresses, and traffic through it reaches every real server', { timeout: 300_000 }, async (t) => {
  if (!master || !backup || master.installFailed || backup.installFailed) return t.skip('no installed pair');
  plan = trafficPlan((await loadSite(HA_SITE)).site);
  masterShell = await openGuestShell(master.vm.pty, { password: 'root' });
  backupShell = await openGuestShell(backup.vm.pty, { password: 'root' });
  const onMaster = await addresses(masterShell);
  const onBackup = await addresses(backupShell);
  assert.match(onMaster, /inet 192\.168\.253\.120\/24 .*eth0:120/, 'the master holds the virtual address');
  assert.match(onMaster, /inet 172\.16\.14\.250\/24 .*eth1:250/, 'the master holds the inside address');
  assert.doesNotMatch(onBackup, /192\.168\.253\.120|172\.16\.14\.250/, 'the backup holds neither');

  // Client and real servers inside the backup: they must outlive the master.
  await timed('traffic network setup (in the backup)', () => setUpTrafficNetwork(backupShell!, plan));
  const all = plan.realServers.map((r) => r.address);
  const up = await timed('master health checks see all real servers', () => waitForIpvs(masterShell!, plan, (l) => all.every((a) => l.includes(a)), 60));
  assert.notEqual(up, null, `the master's IPVS table did not list ${all.join(', ')} within 60 s`);
  const answers = await timed('6 requests through the master', () => requests(backupShell!, plan, 6));
  log(`answers via the master: ${answers.join(' ')}`);
  assert.ok(answers.every((a) => a !== null), `some requests failed: ${answers.join(' ')}`);
  assert.deepEqual([...new Set(answers)].sort(), plan.realServers.map((r) => r.name).sort());
});

test('the master dies: the backup takes both addresses within seconds and carries the traffic', { timeout: 300_000 }, async (t) => {
  if (!masterShell || !backupShell) return t.skip('no traffic through the pair');
  // The backup's own checker has been watching the same real servers.
  const ready = await waitForIpvs(backupShell, plan, (l) => plan.realServers.every((r) => l.includes(r.address)), 60);
  assert.notEqual(ready, null, "the backup's IPVS table never listed every real server");
  await masterShell.close();
  masterShell = undefined;
  await master!.vm.freeze();
  const t0 = performance.now();
  let tookOver: number | null = null;
  while (performance.now() - t0 < 30_000) {
    const now = await addresses(backupShell);
    if (/inet 192\.168\.253\.120\//.test(now) && /inet 172\.16\.14\.250\//.test(now)) {
      tookOver = (performance.now() - t0) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.notEqual(tookOver, null, 'the backup did not take the virtual and inside addresses within 30 s');
  e2e.timings['backup took over after the master froze'] = Math.round(tookOver! * 10) / 10;
  log(`failover: the backup holds both addresses ${tookOver!.toFixed(1)} s after the master froze (advert_int 1: about 3 s expected)`);
  const answers = await timed('6 requests through the backup', () => requests(backupShell!, plan, 6));
  log(`answers via the backup: ${answers.join(' ')}`);
  assert.ok(answers.every((a) => a !== null), `requests failed after the failover: ${answers.join(' ')}`);
  assert.deepEqual([...new Set(answers)].sort(), plan.realServers.map((r) => r.name).sort());
});
