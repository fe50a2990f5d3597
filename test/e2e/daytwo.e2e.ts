/**
 * Day two on the virtual board: the NAT site installed by `obsbuild vm --check --keep`, then the box's later
 * life through the product's own commands, as a user runs them:
 *   - `verify --host` passes on the fresh install, and names a hand-edited file with its diff;
 *   - `apply --host` of a changed site (a fourth real server, scheduler rr, a health-check path) shows the
 *     plan, reloads keepalived (1.1.15 when its source is named) and traffic reaches the new real server;
 *   - `apply --port` does the same kind of change over the serial console, and `verify --port` passes;
 *   - a change lint accepts but the box cannot satisfy (every health check on a page nobody serves) is
 *     rolled back: the previous files come back, keepalived reloads them, and traffic flows as before.
 * Test-side commands on the guest (real-server namespaces, requests) go over the product's SSH client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { loadSite } from '../../src/site/load.js';
import { DEFAULT_VOBS_SITE } from '../../src/vobs/flow.js';
import { openBoxShell } from '../../src/daytwo/transport.js';
import type { BoxShell } from '../../src/remote/box-shell.js';
import type { GuestShell } from '../../src/vobs/guest-shell.js';
import { ipvsRealServers, requests, trafficPlan, waitForIpvs, type TrafficPlan } from '../../src/vobs/traffic.js';
import type { VmSession } from '../../src/vobs/vm-run.js';
import { guestOverBoxShell, keptVobsBoards, vobsE2e } from './vobs-harness.js';

let session: VmSession | undefined;
let box: BoxShell | undefined;
let guest: GuestShell | undefined;
let key = '';
let out = '';
let host = '';
let pty = '';
let knownHosts = '';
const sites: Record<string, string> = {};

const e2e = vobsE2e('daytwo', async () => {
  await box?.close().catch(() => undefined);
  await session?.powerOff().catch(() => undefined);
});
const { log, timed } = e2e;


/** A site file derived from the guide's vobs site by text edits, as a user edits it. */
async function writeSite(name: string, edit: (text: string) => string): Promise<string> {
  const file = join(e2e.work, `${name}.yaml`);
  await writeFile(file, edit(await readFile(sites.base ?? DEFAULT_VOBS_SITE, 'utf8')));
  sites[name] = file;
  return file;
}

function sshArgs(): string[] {
  // The console recorded the board's host key at its first login; pin it. (accept-new only if it did not.)
  return ['--host', host, '--out', out, '--identity', key, ...(existsSync(knownHosts) ? [] : ['--accept-new-host-key'])];
}

async function cli(args: string[], timeoutMs = 240_000) {
  const r = await runCli(args, { timeout: timeoutMs, env: { OBSBUILD_ROOT_PASSWORD: 'root' } });
  log(`$ obsbuild ${args.join(' ')} -> exit ${r.exitCode}`);
  return r;
}

const fourth = '172.16.14.124';

/** Adds the fourth real server's namespace (the same wiring the traffic test gives the first three). */
async function addFourthRealServer(g: GuestShell): Promise<void> {
  for (const c of [
    'ip netns add rs4',
    'ip -n rsw link add prs4 type veth peer name eth0 netns rs4',
    'ip -n rsw link set prs4 master br0',
    'ip -n rsw link set prs4 up',
    `ip -n rs4 addr add ${fourth}/24 dev eth0`,
    'ip -n rs4 link set lo up',
    'ip -n rs4 link set eth0 up',
    'ip -n rs4 route add default via 172.16.14.120',
    'mkdir -p /tmp/obsbuild-www/rs4 && echo rs4 > /tmp/obsbuild-www/rs4/index.html',
    'ip netns exec rs4 busybox httpd -p 80 -h /tmp/obsbuild-www/rs4',
    // the new health-check page, on every real server
    'for n in rs1 rs2 rs3 rs4; do echo ok > /tmp/obsbuild-www/$n/health; done',
  ]) {
    await g.must(c, 20_000);
  }
}

test('the NAT site installs on the virtual board and verify --host passes on it', { timeout: 900_000 }, async () => {
  key = join(e2e.work, 'admin_rsa');
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', 'daytwo-e2e', '-f', key]);
  const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
  sites.base = await writeSite('base', (t) => t.replace(/authorized_keys: \[\]/, `authorized_keys: [${JSON.stringify(pub)}]`));
  out = join(e2e.work, 'out');
  session = await timed('obsbuild vm --check --keep (NAT site, keys for root)', () => keptVobsBoards(e2e, sites.base));
  assert.equal(session.report.exitCode, 0, `vm verdict: ${JSON.stringify(session.report.boards.map((b) => b.firstVerdict))}`);
  const [board] = session.boards;
  assert.ok(board?.sshPort, 'the kept board has an SSH forward');
  host = `root@127.0.0.1:${board.sshPort}`;
  pty = board.pty;
  knownHosts = join(out, board.hostname, 'known_hosts');
  log(`board ${board.hostname}: ssh ${host}, serial ${pty}, host keys recorded: ${existsSync(knownHosts)}`);

  const v = await timed('verify --host (fresh install)', () => cli(['verify', '--site', sites.base, ...sshArgs()]));
  assert.equal(v.exitCode, 0, `${v.stdout}\n${v.stderr}`);
  assert.match(String(v.stdout), /files match the site file/);

  box = await openBoxShell(
    { kind: 'ssh', target: { user: 'root', host: '127.0.0.1', port: board.sshPort }, knownHostsFile: knownHosts, hostKeyAlias: board.hostname, acceptNewHostKey: true, identityFile: key, configFile: 'none' },
    log,
  );
  guest = guestOverBoxShell(box);
});

test('a hand edit on the box: verify names the file with its diff, apply puts it back, verify passes', { timeout: 600_000 }, async (t) => {
  if (!guest) return t.skip('no installed board');
  await guest.must("echo '10.9.9.9 sneaky' >> /etc/hosts");
  const v = await cli(['verify', '--site', sites.base, ...sshArgs()]);
  assert.equal(v.exitCode, 1, String(v.stdout));
  assert.match(String(v.stdout), /\/etc\/hosts/);
  assert.match(String(v.stdout), /^-10\.9\.9\.9 sneaky$/m, 'the diff shows the line the site file does not have');
  const a = await timed('apply --host (restore /etc/hosts)', () => cli(['apply', '--site', sites.base, '--yes', ...sshArgs()]));
  assert.equal(a.exitCode, 0, `${a.stdout}\n${a.stderr}`);
  assert.match(String(a.stdout), /\/etc\/hosts/);
  const again = await cli(['verify', '--site', sites.base, ...sshArgs()]);
  assert.equal(again.exitCode, 0, String(again.stdout));
});

let planAfter: TrafficPlan | undefined;

test('apply --host: a fourth real server, scheduler rr and a health-check path; traffic reaches the new server', { timeout: 600_000 }, async (t) => {
  if (!guest) return t.skip('no installed board');
  await addFourthRealServer(guest);
  const changed = await writeSite('rr-four', (text) =>
    text
      .replace('scheduler: wlc ', 'scheduler: rr  ')
      .replace("check: { type: http, path: /, status: 200", "check: { type: http, path: /health, status: 200")
      .replace(
        '        - { address: 172.16.14.123, port: 80, weight: 1 }',
        `        - { address: 172.16.14.123, port: 80, weight: 1 }\n        - { address: ${fourth}, port: 80, weight: 1 }`,
      ),
  );
  const site = (await loadSite(changed)).site;
  assert.equal(site.lvs.virtual_servers[0].real_servers.length, 4, 'the edit added the fourth real server');
  assert.equal(site.lvs.virtual_servers[0].scheduler, 'rr');

  const dry = await cli(['apply', '--site', changed, '--dry-run', ...sshArgs()]);
  assert.equal(dry.exitCode, 0, `${dry.stdout}\n${dry.stderr}`);
  assert.match(String(dry.stdout), /keepalived\.conf/);
  assert.match(String(dry.stdout), /^\+.*lb_algo rr/m, 'the plan shows the new scheduler in the diff');
  assert.match(String(dry.stdout), new RegExp(`^\\+.*real_server ${fourth.replace(/\./g, '\\.')} 80`, 'm'));

  const json = join(e2e.work, 'apply-rr.json');
  const a = await timed('apply --host (keepalived.conf: rr, fourth real server, /health)', () => cli(['apply', '--site', changed, '--yes', '--json', json, ...sshArgs()]));
  assert.equal(a.exitCode, 0, `${a.stdout}\n${a.stderr}`);
  const result = JSON.parse(await readFile(json, 'utf8')) as { outcome: string; previousDir: string | null };
  assert.equal(result.outcome, 'applied');
  assert.ok(result.previousDir, 'the replaced files were kept on the box');
  assert.match(await guest.must(`ls ${result.previousDir}/etc/keepalived/`), /keepalived\.conf/);

  planAfter = trafficPlan(site);
  const all = planAfter.realServers.map((r) => r.address);
  const listed = await waitForIpvs(guest, planAfter, (l) => all.every((x) => l.includes(x)), 60);
  assert.notEqual(listed, null, `ipvsadm did not list ${all.join(', ')}: ${await ipvsRealServers(guest, planAfter)}`);
  assert.match(await guest.must('ipvsadm -L -n'), /TCP +192\.168\.253\.120:80 rr/);
  const answers = await timed('8 requests after the apply', () => requests(guest!, planAfter!, 8));
  log(`answers: ${answers.join(' ')}`);
  assert.ok(answers.every((x) => x !== null), `requests failed: ${answers.join(' ')}`);
  assert.deepEqual([...new Set(answers)].sort(), ['rs1', 'rs2', 'rs3', 'rs4'], 'round robin reaches all four, the new one included');
  const v = await timed('verify --host (after apply)', () => cli(['verify', '--site', changed, ...sshArgs()]));
  assert.equal(v.exitCode, 0, String(v.stdout));
  assert.match(String(v.stdout), /applied config is live/);
});

test('apply --port over the serial console (scheduler lc), then verify --port passes', { timeout: 600_000 }, async (t) => {
  if (!guest || !planAfter) return t.skip('no applied board');
  const changed = await writeSite('lc-four', (text) =>
    text
      .replace('scheduler: wlc ', 'scheduler: lc   ')
      .replace("check: { type: http, path: /, status: 200", "check: { type: http, path: /health, status: 200")
      .replace(
        '        - { address: 172.16.14.123, port: 80, weight: 1 }',
        `        - { address: 172.16.14.123, port: 80, weight: 1 }\n        - { address: ${fourth}, port: 80, weight: 1 }`,
      ),
  );
  const a = await timed('apply --port (keepalived.conf: lc) over 115200 baud', () => cli(['apply', '--site', changed, '--yes', '--port', pty], 420_000));
  assert.equal(a.exitCode, 0, `${a.stdout}\n${a.stderr}`);
  assert.match(await guest.must('ipvsadm -L -n'), /TCP +192\.168\.253\.120:80 lc/);
  const answers = await requests(guest, planAfter, 4);
  assert.ok(answers.every((x) => x !== null), `requests failed after the serial apply: ${answers.join(' ')}`);
  const v = await timed('verify --port over 115200 baud', () => cli(['verify', '--site', changed, '--port', pty], 300_000));
  assert.equal(v.exitCode, 0, String(v.stdout));
});

test('a change the box cannot satisfy (every health check on a page nobody serves) is rolled back; traffic flows as before', { timeout: 600_000 }, async (t) => {
  if (!guest || !planAfter) return t.skip('no applied board');
  const before = await guest.must('cat /etc/keepalived/keepalived.conf');
  const broken = await writeSite('broken-check', (text) =>
    text
      .replace('scheduler: wlc ', 'scheduler: lc   ')
      .replace("check: { type: http, path: /, status: 200", "check: { type: http, path: /nobody-serves-this, status: 200")
      .replace(
        '        - { address: 172.16.14.123, port: 80, weight: 1 }',
        `        - { address: 172.16.14.123, port: 80, weight: 1 }\n        - { address: ${fourth}, port: 80, weight: 1 }`,
      ),
  );
  const lint = await cli(['lint', '--site', broken]);
  assert.notEqual(lint.exitCode, 1, `lint must accept it: ${lint.stderr}`);
  const json = join(e2e.work, 'apply-broken.json');
  const a = await timed('apply --host of a change that fails (rolled back)', () => cli(['apply', '--site', broken, '--yes', '--json', json, ...sshArgs()]));
  assert.equal(a.exitCode, 1, `${a.stdout}\n${a.stderr}`);
  const result = JSON.parse(await readFile(json, 'utf8')) as { outcome: string; summary: string };
  log(`outcome: ${result.outcome}: ${result.summary}`);
  assert.match(result.outcome, /rolled-back/);
  assert.equal(await guest.must('cat /etc/keepalived/keepalived.conf'), before, 'the previous keepalived.conf is back');
  const all = planAfter.realServers.map((r) => r.address);
  const back = await waitForIpvs(guest, planAfter, (l) => all.every((x) => l.includes(x)), 60);
  assert.notEqual(back, null, 'the previous real servers are back in the table');
  const answers = await requests(guest, planAfter, 4);
  assert.ok(answers.every((x) => x !== null), `traffic after the rollback: ${answers.join(' ')}`);
});
