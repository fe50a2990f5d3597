/**
 * The whole flow on the virtual OpenBlockS 600 (QEMU, TCG): the guide's site (NAT, virtual address
 * 192.168.253.120, real servers 172.16.14.121-123) built for vobs, installed from the stick by the generated
 * msf_init.sh under the stand-in firmware, power-cycled without the stick, first-booted and verified by
 * `obsbuild console`; then LVS traffic inside the guest: a client namespace on the eth0 wire reaches all
 * three real-server namespaces on the eth1 wire through the virtual address, and a stopped real server is
 * taken out by keepalived within its health check's budget while requests keep succeeding.
 * Day two's way in: the admin's SSH path (QEMU's restricted user network on eth0's wire, a forward from
 * 127.0.0.1) reaches the board's sshd, which offers only what lenny's OpenSSH 5.1 offers, with the product's
 * SSH client; the guest runs the keepalived the stand-in chose (1.1.15 when its source is named) and reaches
 * nothing through that network.
 * Negative path: a stick with one corrupted file makes the installer stop before it touches the CF card.
 *
 * Stand-in inputs are built once per machine into ~/.cache/obsbuild/vobs (about a minute with apt).
 * Each phase's time is printed (`# vobs timing ...`) for the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadSite } from '../../src/site/load.js';
import { openBoxShell } from '../../src/daytwo/transport.js';
import type { BoxShell } from '../../src/remote/box-shell.js';
import { KEEPALIVED_115_DEB_VERSION } from '../../src/vobs/keepalived115-deb.js';
import { mgmtAddresses } from '../../src/vobs/mgmt.js';
import { VOBS_ROOTFS_NAME } from '../../src/vobs/recipe.js';
import { bootAndVerify, buildVobsImage, DEFAULT_VOBS_SITE, type BootResult, type BuiltImage } from '../../src/vobs/flow.js';
import { openGuestShell, type GuestShell } from '../../src/vobs/guest-shell.js';
import {
  ipvsRealServers,
  requests,
  setUpTrafficNetwork,
  stopRealServer,
  trafficPlan,
  waitForIpvs,
  type TrafficPlan,
} from '../../src/vobs/traffic.js';
import { corruptFileInStick } from '../vobs/stick-corrupt.js';
import { logSize, waitForLog } from '../../src/vobs/serial-watch.js';
import { consoleVerdict, notPassed, onlyRealServersDown, readConsoleReport, vobsE2e } from './vobs-harness.js';

let image: BuiltImage;
let boot: BootResult | undefined;
let shell: GuestShell | undefined;
let plan: TrafficPlan;
let siteFile: string;
let userKey: string;
/** How the tests reach the board over SSH (set once the board is up). */
let sshTarget: Parameters<typeof openBoxShell>[0] | undefined;

/**
 * What a box in service carries besides the load balancer, as an operator writes it: a folder of their own
 * files and one file given inline with its owner and mode, the zone, NTP servers and a log host. The log host
 * is the board's own loopback (nothing outside the guest is reachable), where the test listens.
 */
const SERVICE_SETTINGS = `
files:
  folder: files
  entries:
    - path: /etc/obsbuild-e2e/agent.conf
      content: "collector 192.168.253.1\\n"
      mode: "0640"
      owner: root
      group: adm
timezone: Asia/Tokyo
ntp:
  servers: [192.168.253.1]
syslog:
  servers: [127.0.0.1]
  port: 5514
`;
const HELLO_SCRIPT = '#!/bin/sh\necho hello from the site files\n';

/** A symlink of the folder's, relative as an operator's rc.d link is: on the box it points at the script. */
const HELLO_LINK = '/usr/local/bin/obsbuild-e2e-hi';
const HELLO_LINK_TARGET = '../sbin/obsbuild-e2e-hello';

/** The site's `files.folder`, beside the site file. */
async function writeSiteFilesFolder(dir: string): Promise<void> {
  await mkdir(join(dir, 'files', 'usr', 'local', 'sbin'), { recursive: true });
  await mkdir(join(dir, 'files', 'usr', 'local', 'bin'), { recursive: true });
  const script = join(dir, 'files', 'usr', 'local', 'sbin', 'obsbuild-e2e-hello');
  await writeFile(script, HELLO_SCRIPT);
  await chmod(script, 0o755);
  await symlink(HELLO_LINK_TARGET, join(dir, 'files', HELLO_LINK));
}

const e2e = vobsE2e('vobs', async () => {
  await shell?.close().catch(() => undefined);
  await boot?.vm.quit().catch(() => undefined);
});
const { log, timed } = e2e;

test('the guide site installs from the stick, first-boots and passes every console check', { timeout: 600_000 }, async () => {
  // The guide's site with an admin key for root (site file root.authorized_keys), as a user would set it.
  userKey = join(e2e.work, 'admin_rsa');
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', 'vobs-e2e', '-f', userKey]);
  const pub = (await readFile(`${userKey}.pub`, 'utf8')).trim();
  const text = await readFile(DEFAULT_VOBS_SITE, 'utf8');
  siteFile = join(e2e.work, 'site.yaml');
  await writeFile(siteFile, text.replace(/authorized_keys: \[\]/, `authorized_keys: [${JSON.stringify(pub)}]`) + SERVICE_SETTINGS);
  await writeSiteFilesFolder(e2e.work);
  [image] = await timed('obsbuild image', () =>
    buildVobsImage({ siteFile, outDir: join(e2e.work, 'out'), standin: e2e.standin, log, stdio: 'pipe' }),
  );
  boot = await timed('boot, install, power-cycle, first boot, console checks', () =>
    bootAndVerify({ image, standin: e2e.standin, log, check: true, keepRunning: true, consoleStdio: 'pipe' }),
  );
  for (const [k, v] of Object.entries(boot.marks)) log(`timing from power-on: ${k} ${v} s`);
  const report = await readConsoleReport(boot.consoleJson);
  for (const p of report.phases) log(`console phase ${p.name}: ${((p.durationMs ?? 0) / 1000).toFixed(1)} s`);
  assert.equal(boot.installFailed, undefined, 'the installer reported a failure');
  // No real server exists yet (the traffic test makes them), so keepalived's health checks have taken
  // them out of IPVS: the one finding allowed here. The full verdict is asked again once they run.
  assert.deepEqual(notPassed(report.checks, onlyRealServersDown), [], 'console checks that did not pass');
  assert.ok(report.checks.length >= 8, `only ${report.checks.length} checks ran`);
  // The site's time zone, NTP and syslog settings were checked on the box (and passed, above).
  for (const name of [/time zone/i, /NTP/, /syslog/i]) {
    assert.ok(report.checks.some((c) => name.test(c.name) && c.status === 'pass'), `no passing check matching ${name}: ${report.checks.map((c) => c.name).join(', ')}`);
  }
  assert.equal(boot.bootSource, 'cf', 'flashcfg -c cf recorded the CF card as the boot source');
  assert.equal(boot.cfKernelMatches, true, "the CF card's uImage.initrd-cfboot holds the kernel the board runs");
});

/** `ssh` by hand with extra options: proves what the guest's sshd refuses. Resolves with the exit code and stderr. */
function plainSsh(port: number, knownHosts: string, extra: string[]): Promise<{ code: number | null; stderr: string }> {
  const args = ['-F', 'none', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'HostKeyAlias=obs600', '-o', 'ConnectTimeout=20', '-i', userKey, '-o', 'IdentitiesOnly=yes', ...extra, '-p', String(port), 'root@127.0.0.1', 'true'];
  return new Promise((resolve) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('the admin reaches the board over SSH with lenny\'s options; the guest reaches nothing', { timeout: 300_000 }, async (t) => {
  if (!boot || boot.installFailed) return t.skip('no installed board');
  const port = boot.sshPort;
  assert.ok(port, 'the board has a forwarded SSH port');
  log(`ssh: 127.0.0.1:${port}; ssh ready ${boot.marks['ssh ready'] ?? '?'} s from power-on (login prompt ${boot.marks['login prompt']} s)`);
  assert.ok(boot.marks['ssh ready'] !== undefined, 'sshd answered on the forward after the first boot');
  const knownHosts = join(e2e.work, 'known_hosts');
  await writeFile(knownHosts, '');
  const target = { kind: 'ssh' as const, target: { user: 'root', host: '127.0.0.1', port }, knownHostsFile: knownHosts, hostKeyAlias: image.hostname,
    identityFile: userKey, configFile: 'none' };
  sshTarget = { ...target, acceptNewHostKey: false };
  // First contact records the key (accept-new); the second connection must match it (the pinned path).
  const first = await timed('ssh connect through the forward (first contact, accept-new)', () => openBoxShell({ ...target, acceptNewHostKey: true }, log));
  await first.close();
  let box: BoxShell | undefined;
  try {
    box = await timed('ssh connect through the forward (pinned key)', () => openBoxShell({ ...target, acceptNewHostKey: false }, log));
    const run = async (cmd: string) => (await box!.run(cmd, { timeoutMs: 30_000 })).stdout.toString();

    // The key it recorded is the board's own, made by the first-boot script, not the rootfs tarball's.
    const recorded = (await readFile(knownHosts, 'utf8')).trim().split('\n');
    assert.equal(recorded.length, 1, 'one key recorded');
    const [alias, type, key] = recorded[0].split(' ');
    assert.deepEqual([alias, type], [image.hostname, 'ssh-rsa']);
    assert.equal((await run('cat /etc/ssh/ssh_host_rsa_key.pub')).split(' ')[1], key);
    const tarball = execFileSync('tar', ['-xzOf', join(e2e.standin.inputsDir, VOBS_ROOTFS_NAME), './etc/ssh/ssh_host_rsa_key.pub'], { encoding: 'utf8' });
    assert.notEqual(tarball.split(' ')[1], key, 'sshd runs with a key of the box\'s own, not the image\'s');

    // keepalived: the version the stand-in chose, running from the lenny init script with ip_vs loaded.
    const version = await run('keepalived -v 2>&1 | head -n 1; dpkg-query -W -f \'${Version}\\n\' keepalived');
    log(`keepalived on the board: ${version.trim().replace(/\n/g, ' | ')}`);
    if (e2e.keepalived.recipe.kind === '1.1.15') {
      assert.match(version, /Keepalived v1\.1\.15/);
      assert.ok(version.includes(KEEPALIVED_115_DEB_VERSION), version);
    } else {
      assert.match(version, /Keepalived v2\./);
    }
    const pid = (await run('cat /var/run/keepalived.pid')).trim();
    assert.match(pid, /^\d+$/, 'the init script\'s pidfile names the daemon');
    assert.equal((await run(`readlink /proc/${pid}/exe`)).trim(), '/usr/sbin/keepalived');
    assert.match(await run('cat /proc/modules'), /^ip_vs /m);

    // The guest reaches nothing through QEMU's network: a listener on the host's 127.0.0.1 (where an
    // unrestricted QEMU would take a connection to its own address) and an outside address both fail, fast.
    const [mgmt] = mgmtAddresses((await loadSite(siteFile)).site);
    let reached = 0;
    const listener = createServer((s) => {
      reached++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const hostPort = (listener.address() as { port: number }).port;
    try {
      const probe = (addr: string) =>
        run(`t0=$(date +%s); if busybox nc -w 5 ${addr} ${hostPort} </dev/null; then echo REACHED; else echo refused; fi; echo took $(( $(date +%s) - t0 ))`);
      // The probe works: the board's own sshd, on its own address, answers it.
      const own = await run(`sleep 2 | busybox nc -w 5 ${mgmt.guest} 22 | head -c 8`);
      assert.equal(own, 'SSH-2.0-', 'busybox nc reaches a listening port (the probe can succeed)');
      const toQemu = await probe(mgmt.host);
      // An outside address, routed to QEMU's address for the test (the board has no default route).
      const outside = await run(`ip route add 10.0.2.0/24 via ${mgmt.host} dev eth0 && { ${'busybox nc -w 5 10.0.2.2 ' + hostPort + ' </dev/null && echo REACHED || echo refused'}; ip route del 10.0.2.0/24; }`);
      log(`guest to ${mgmt.host}:${hostPort}: ${toQemu.trim().replace(/\n/g, ' ')}; to 10.0.2.2: ${outside.trim()}`);
      assert.match(toQemu, /refused/);
      assert.match(outside, /refused/);
      assert.ok(Number(/took (\d+)/.exec(toQemu)?.[1] ?? 99) <= 5, 'fails within nc\'s timeout');
      assert.equal(reached, 0, 'nothing from the guest arrived on the host');
    } finally {
      listener.close();
    }
  } finally {
    await box?.close();
  }

  // The client options are needed, and the guest offers nothing newer than lenny: each of these fails.
  const refusals = await Promise.all([
    plainSsh(port, knownHosts, []), // OpenSSH 9.2's defaults: no ssh-rsa host key
    plainSsh(port, knownHosts, ['-o', 'HostKeyAlgorithms=+ssh-rsa', '-o', 'KexAlgorithms=curve25519-sha256']),
    plainSsh(port, knownHosts, ['-o', 'HostKeyAlgorithms=+ssh-rsa', '-o', 'Ciphers=chacha20-poly1305@openssh.com,aes256-gcm@openssh.com']),
    plainSsh(port, knownHosts, ['-o', 'HostKeyAlgorithms=+ssh-rsa', '-o', 'MACs=hmac-sha2-256,hmac-sha2-512']),
  ]);
  for (const r of refusals) {
    assert.equal(r.code, 255, r.stderr);
    assert.match(r.stderr, /Unable to negotiate|no matching/);
  }
  const accepted = await plainSsh(port, knownHosts, ['-o', 'HostKeyAlgorithms=+ssh-rsa', '-o', 'PubkeyAcceptedAlgorithms=+ssh-rsa']);
  assert.equal(accepted.code, 0, `with lenny's options: ${accepted.stderr}`);
});

test('the site\'s own files, time zone, NTP and syslog are in place; keepalived\'s log lines reach the log host', { timeout: 180_000 }, async (t) => {
  if (!sshTarget) return t.skip('no SSH path to the board');
  const box = await openBoxShell(sshTarget, log);
  try {
    const run = async (cmd: string) => {
      const r = await box.run(cmd, { timeoutMs: 30_000 });
      return { code: r.exitCode, out: r.stdout.toString() };
    };
    // files: the inline entry with its owner, group and mode; the folder's script with its mode, runnable.
    assert.equal((await run('stat -c "%a %U %G" /etc/obsbuild-e2e/agent.conf')).out.trim(), '640 root adm');
    assert.equal((await run('cat /etc/obsbuild-e2e/agent.conf')).out, 'collector 192.168.253.1\n');
    assert.equal((await run('stat -c "%a %U" /usr/local/sbin/obsbuild-e2e-hello')).out.trim(), '755 root');
    assert.equal((await run('/usr/local/sbin/obsbuild-e2e-hello')).out, 'hello from the site files\n');
    assert.equal((await run(`readlink ${HELLO_LINK}`)).out, `${HELLO_LINK_TARGET}\n`);
    assert.equal((await run(HELLO_LINK)).out, 'hello from the site files\n');
    // timezone: the zone in effect for every program, not just the file.
    assert.equal((await run('cat /etc/timezone')).out, 'Asia/Tokyo\n');
    assert.equal((await run('date +%Z')).out.trim(), 'JST');
    // syslog: listen on the log host's port, then make keepalived log: its lines must arrive there.
    const listen =
      'perl -MIO::Socket::INET -e \'$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 5514, Proto => "udp") or die "listen: $!"; ' +
      '$| = 1; $SIG{ALRM} = sub { exit 0 }; alarm 60; while (defined $s->recv($m, 8192)) { print "$m\\n" }\'';
    assert.equal((await run(`rm -f /tmp/loghost.txt; nohup ${listen} </dev/null >/tmp/loghost.txt 2>&1 & sleep 1; echo started`)).out.trim(), 'started');
    await run('logger -p daemon.notice obsbuild-e2e-marker; kill -HUP "$(cat /var/run/keepalived.pid)"');
    let got = '';
    for (let i = 0; i < 20 && !(/obsbuild-e2e-marker/.test(got) && /Keepalived/i.test(got)); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      got = (await run('cat /tmp/loghost.txt')).out;
    }
    log(`log host received ${got.split('\n').filter(Boolean).length} line(s), e.g. ${got.split('\n').find((l) => /Keepalived/i.test(l)) ?? '(no keepalived line)'}`);
    assert.match(got, /obsbuild-e2e-marker/, 'a line logged on the box reached the log host');
    assert.match(got, /Keepalived/i, "keepalived's own lines reached the log host");
    await run('pkill -f "LocalPort => 5514" || true');
  } finally {
    await box.close();
  }
});

test('traffic through the virtual address reaches all three real servers', { timeout: 300_000 }, async (t) => {
  if (!boot || boot.installFailed) return t.skip('no installed board');
  const loaded = await loadSite(image.siteFile);
  plan = trafficPlan(loaded.site);
  shell = await timed('login for the traffic test', () => openGuestShell(boot!.vm.pty, { password: 'root' }));
  await timed('traffic network setup', () => setUpTrafficNetwork(shell!, plan));
  const all = plan.realServers.map((r) => r.address);
  // keepalived took the servers out while nothing answered; its HTTP check puts them back.
  const upAfter = await timed('health checks see all real servers', () =>
    waitForIpvs(shell!, plan, (l) => all.every((a) => l.includes(a)), 60),
  );
  assert.notEqual(upAfter, null, `ipvsadm -L -n did not list ${all.join(', ')} within 60 s`);
  // With every real server up, the console's verdict on the box must be a full pass.
  await shell!.close();
  shell = undefined;
  const verdict = await timed('obsbuild console --from login --check', () => consoleVerdict(boot!, image));
  // This test is about the load balancer: its checks must all pass now (the full verdict is test 1's).
  const lb = verdict.checks.filter((c) => /keepalived|IPVS|ip_vs|ip_forward|interface addresses/.test(c.name));
  assert.ok(lb.length >= 4, `load-balancer checks missing: ${verdict.checks.map((c) => c.name).join(', ')}`);
  assert.deepEqual(lb.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.evidence}`), []);
  shell = await openGuestShell(boot!.vm.pty, { password: 'root' });
  const answers = await timed('9 requests through the VIP', () => requests(shell!, plan, 9));
  log(`answers: ${answers.join(' ')}`);
  assert.ok(answers.every((a) => a !== null), `some requests failed: ${answers.join(' ')}`);
  assert.deepEqual([...new Set(answers)].sort(), plan.realServers.map((r) => r.name).sort());
});

test('a stopped real server is taken out within the health check budget and requests keep succeeding', { timeout: 300_000 }, async (t) => {
  if (!shell) return t.skip('no traffic network');
  const victim = plan.realServers[1];
  await stopRealServer(shell, victim.name);
  const takenOut = await timed(`${victim.address} taken out of IPVS`, () =>
    waitForIpvs(shell!, plan, (l) => !l.includes(victim.address), plan.takeOutBudgetS + 5),
  );
  assert.notEqual(takenOut, null, `${victim.address} still listed ${plan.takeOutBudgetS + 5} s after it stopped`);
  log(`taken out after ${takenOut!.toFixed(1)} s (budget ${plan.takeOutBudgetS} s: delay_loop + retries x (connect_timeout + retry_delay))`);
  assert.ok(takenOut! <= plan.takeOutBudgetS + 5);
  const listed = await ipvsRealServers(shell, plan);
  assert.deepEqual(listed.sort(), plan.realServers.filter((r) => r !== victim).map((r) => r.address).sort());
  const answers = await requests(shell, plan, 6);
  log(`answers after the stop: ${answers.join(' ')}`);
  assert.ok(answers.every((a) => a !== null), `requests failed after the stop: ${answers.join(' ')}`);
  assert.ok(!answers.includes(victim.name));
  assert.equal(new Set(answers).size, 2, 'both remaining real servers answer');
});

test('after another power-cycle the load balancer comes back by itself', { timeout: 300_000 }, async (t) => {
  if (!boot || boot.installFailed) return t.skip('no installed board');
  await shell?.close();
  shell = undefined;
  const from = await logSize(boot.vm.serialLog);
  await boot.vm.reset();
  await timed('second boot to login prompt', () => waitForLog(boot!.vm.serialLog, /login: /, { timeoutMs: 240_000, from }));
  const verdict = await timed('obsbuild console --from login --check (second boot)', () => consoleVerdict(boot!, image));
  const lb = verdict.checks.filter((c) => /keepalived|IPVS/.test(c.name));
  assert.ok(lb.length >= 2, 'the keepalived and IPVS checks ran');
  for (const c of lb) {
    // Real servers are gone (their namespaces died with the reset): only "down" findings are allowed.
    if (/^IPVS table/.test(c.name) && c.status !== 'pass') {
      assert.match(c.evidence, /removed it|is down/, `${c.name}: ${c.evidence}`);
    } else {
      assert.equal(c.status, 'pass', `${c.name}: ${c.evidence}`);
    }
  }
});

test('a stick with a corrupted file: the installer stops before touching the CF card', { timeout: 300_000 }, async (t) => {
  if (!image) return t.skip('no image');
  // Stop the first board: the second one gets its own CF card and stick.
  await shell?.close();
  shell = undefined;
  await boot?.vm.quit();
  const badStick = join(e2e.work, 'bad-stick.img');
  await copyFile(image.stickImage, badStick);
  await corruptFileInStick(badStick, '/msf/kern.tgz');
  const bad: BuiltImage = { ...image, hostDir: join(e2e.work, 'bad'), stickImage: badStick };
  const result = await timed('corrupted stick: boot to verdict', () =>
    bootAndVerify({ image: bad, standin: e2e.standin, log, check: true, consoleStdio: 'pipe', timeoutMs: 240_000 }),
  );
  assert.match(result.installFailed ?? '', /FAILED \[1\/8\] preflight: .*kern\.tgz/);
  assert.notEqual(result.consoleExitCode, 0);
  const report = await readConsoleReport(result.consoleJson);
  assert.ok(report.failure, 'the console reports a failure');
  assert.match(`${report.failure.class} ${report.failure.message}`, /install|kern\.tgz/i);
  // The CF card file is still sparse and empty: not one block was written.
  const cf = await stat(join(result.runDir, 'cf.img'));
  assert.equal(cf.blocks, 0, 'the CF card was written to');
  assert.equal(result.bootSource, undefined, 'flashcfg was not run');
});
