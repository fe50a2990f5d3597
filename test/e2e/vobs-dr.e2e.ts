/**
 * Direct routing (DR) on the virtual board (QEMU, TCG): board/vobs/site-dr.yaml, the LVS set-up of seed
 * 002. The board installs from its stick and passes `obsbuild console`; then the real servers join the
 * client's segment, each set up with exactly what `obsbuild realserver` writes for it (the virtual address on
 * lo, the ARP sysctls). Requests to the virtual address must reach every real server while the director
 * sends no reply packet itself: DR replies go straight from the real server to the client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSite } from '../../src/site/load.js';
import { bootAndVerify, buildVobsImage, DEFAULT_VOBS_SITE, type BootResult, type BuiltImage } from '../../src/vobs/flow.js';
import { openGuestShell, type GuestShell } from '../../src/vobs/guest-shell.js';
import { ipvsServiceStats, requests, setUpTrafficNetwork, trafficPlan, waitForIpvs, type TrafficPlan } from '../../src/vobs/traffic.js';
import { consoleVerdict, notPassed, onlyRealServersDown, readConsoleReport, vobsE2e } from './vobs-harness.js';

const DR_SITE = DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-dr.yaml');

let image: BuiltImage;
let boot: BootResult | undefined;
let shell: GuestShell | undefined;
let plan: TrafficPlan;

const e2e = vobsE2e('vobs-dr', async () => {
  await shell?.close().catch(() => undefined);
  await boot?.vm.quit().catch(() => undefined);
});
const { log, timed } = e2e;

test('the DR site installs from the stick, first-boots and passes the console checks', { timeout: 600_000 }, async () => {
  [image] = await timed('obsbuild image', () =>
    buildVobsImage({ siteFile: DR_SITE, outDir: join(e2e.work, 'out'), standin: e2e.standin, log, stdio: 'pipe' }),
  );
  boot = await timed('boot, install, power-cycle, first boot, console checks', () =>
    bootAndVerify({ image, standin: e2e.standin, log, check: true, keepRunning: true, consoleStdio: 'pipe' }),
  );
  assert.equal(boot.installFailed, undefined, 'the installer reported a failure');
  const report = await readConsoleReport(boot.consoleJson);
  assert.deepEqual(notPassed(report.checks, onlyRealServersDown), [], 'console checks that did not pass');
  // DR needs no forwarding: the site says ip_forward false and the box must agree.
  const forward = report.checks.find((c) => /ip_forward/.test(c.name));
  assert.match(forward?.evidence ?? '', /ip_forward = 0/, `ip_forward check: ${forward?.evidence}`);
});

test('requests reach every real server and the replies bypass the director', { timeout: 300_000 }, async (t) => {
  if (!boot || boot.installFailed) return t.skip('no installed board');
  plan = trafficPlan((await loadSite(DR_SITE)).site);
  assert.equal(plan.forwarding, 'dr');
  shell = await timed('login for the traffic test', () => openGuestShell(boot!.vm.pty, { password: 'root' }));
  await timed('DR traffic network setup (obsbuild realserver files applied)', () => setUpTrafficNetwork(shell!, plan));
  const all = plan.realServers.map((r) => r.address);
  const up = await timed('health checks see all real servers', () => waitForIpvs(shell!, plan, (l) => all.every((a) => l.includes(a)), 60));
  assert.notEqual(up, null, `ipvsadm -L -n did not list ${all.join(', ')} within 60 s`);
  assert.match(await shell.must('ipvsadm -L -n'), /192\.168\.253\.121:80\s+Route/, 'the real servers are reached by direct routing');

  const before = await ipvsServiceStats(shell, plan);
  const answers = await timed('9 requests through the VIP', () => requests(shell!, plan, 9));
  // The kernel folds its per-CPU counters into what ipvsadm shows every 2 s (the rate estimator): wait for them.
  let after = await ipvsServiceStats(shell, plan);
  for (let i = 0; i < 20 && after && before && after.connections - before.connections < 9; i++) {
    await new Promise((r) => setTimeout(r, 500));
    after = await ipvsServiceStats(shell, plan);
  }
  log(`answers: ${answers.join(' ')}; IPVS counters before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
  assert.ok(answers.every((a) => a !== null), `some requests failed: ${answers.join(' ')}`);
  assert.deepEqual([...new Set(answers)].sort(), plan.realServers.map((r) => r.name).sort(), 'rr spreads the requests over every real server');
  assert.ok(before && after, 'ipvsadm lists the virtual service');
  assert.ok(after.connections - before.connections >= 9, 'every request went through IPVS');
  assert.ok(after.inPackets > before.inPackets);
  assert.equal(after.outPackets, 0, 'the director sent reply packets: they should go straight from the real servers');

  // With the real servers up, the console's verdict on the box is a full pass.
  await shell.close();
  shell = undefined;
  const verdict = await timed('obsbuild console --from login --check', () => consoleVerdict(boot!, image));
  assert.deepEqual(verdict.failed, []);
  assert.equal(verdict.exitCode, 0);
});
