/**
 * Direct routing (DR) on the virtual board (QEMU, TCG), through the command a user runs:
 * `obsbuild vm --check --site board/vobs/site-dr.yaml` (the LVS set-up of scenario 002 in docs/scenarios.md). The board installs from
 * its stick and passes `obsbuild console`; the real servers join the client's segment, each set up with
 * exactly what `obsbuild realserver` writes for it (the virtual address on lo, the ARP sysctls). Requests to
 * the virtual address must reach every real server through IPVS while the director sends no reply packet:
 * DR replies go straight from the real server to the client. The console follows the board through the real
 * ser2net (`--console-server rfc2217`), as in a lab with a console server: the same phases, checks and verdict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_VOBS_SITE } from '../../src/vobs/flow.js';
import { join } from 'node:path';
import { firstVerdictProblems, notPassed, readConsoleReport, runVmCheck, vobsE2e } from './vobs-harness.js';

const DR_SITE = DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-dr.yaml');

const e2e = vobsE2e('vobs-dr', async () => {});

test('obsbuild vm --check, DR site, console through ser2net (RFC 2217): install, first boot, every real server answers, replies bypass the director', { timeout: 900_000 }, async () => {
  const { exitCode, report } = await e2e.timed('obsbuild vm --check --console-server rfc2217 --site site-dr.yaml', () =>
    runVmCheck(DR_SITE, e2e.work, e2e.log, ['--console-server', 'rfc2217']),
  );
  const [board] = report.boards;
  const followed = await readConsoleReport(join(board.runDir, 'console.json'));
  assert.match(followed.port, /^rfc2217:\/\/127\.0\.0\.1:\d+$/, 'the console followed the install through ser2net');
  assert.equal(report.boards.length, 1);
  assert.equal(board.installFailed, undefined, 'the installer reported a failure');
  assert.deepEqual(firstVerdictProblems(board), []);
  assert.equal(board.bootSource, 'cf');

  const [traffic] = report.traffic;
  e2e.log(`answers ${traffic?.answers.join(' ')}; IPVS ${JSON.stringify(traffic?.ipvs)}`);
  assert.equal(traffic.forwarding, 'dr');
  assert.ok(traffic.answers.every((a) => a !== null), `some requests failed: ${traffic.answers.join(' ')}`);
  assert.deepEqual([...new Set(traffic.answers)].sort(), ['rs1', 'rs2', 'rs3'], 'rr spreads the requests over every real server');
  assert.ok(traffic.ipvs && traffic.ipvs.connections >= traffic.answers.length, 'every request went through IPVS');
  assert.ok(traffic.ipvs.inPackets > 0);
  assert.equal(traffic.ipvs.outPackets, 0, 'the director sent reply packets: they should go straight from the real servers');

  // DR needs no forwarding: the site says ip_forward false and the box agrees, in the final verdict.
  const verdict = await readConsoleReport(join(board.runDir, 'verdict.json'));
  const forward = verdict.checks.find((c) => /ip_forward/.test(c.name));
  assert.match(forward?.evidence ?? '', /ip_forward = 0/, `ip_forward check: ${forward?.evidence}`);
  assert.deepEqual(notPassed(verdict.checks), []);
  assert.equal(report.finalVerdictExitCode, 0);
  assert.equal(exitCode, 0);
});
