import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { Sim, goodBox, makeBoxRoot, sleep, waitFor } from './simulator.js';

test('console --help explains the phases, budgets and failure classes', async () => {
  const r = await runCli(['console', '--help']);
  assert.equal(r.exitCode, 0);
  const out = String(r.stdout);
  for (const word of ['installer', 'install-done', 'first-boot', 'no-data', 'wrong-baud', 'kernel-panic', 'reboot-loop', 'stalled', 'login-refused', '--from', '--budget']) {
    assert.ok(out.includes(word), `help mentions ${word}`);
  }
});

test('console --from login --check on a pty: logs in, checks, writes the JSON report and transcript, exit 0', async () => {
  const sim = await Sim.start();
  const cwd = await mkdtemp(join(tmpdir(), 'obsbuild-console-cli-'));
  try {
    const box = goodBox('m-cli');
    const root = await makeBoxRoot(sim.dir, box);
    await writeFile(join(cwd, 'manifest.json'), JSON.stringify({ id: 'm-cli', inputs: [] }));
    const cli = runCli(
      ['console', '--port', sim.consolePath, '--from', 'login', '--check', '--manifest', 'manifest.json', '--json', 'report.json', '--log', 'console.log', '--budget', 'login=15'],
      { cwd, env: { OBSBUILD_ROOT_PASSWORD: 'hunter2' } },
    );
    const board = (async () => {
      await sim.board.readLine(true, 10000);
      await sim.board.login({ hostname: 'obs600', password: 'hunter2', root });
    })().catch(() => {});
    const r = await cli;
    await sim.board.shutdown();
    await board;
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.match(String(r.stderr), /console: PASS/);
    assert.match(String(r.stderr), /no site file/);
    const report = JSON.parse(await readFile(join(cwd, 'report.json'), 'utf8'));
    assert.equal(report.ok, true);
    assert.equal(report.checks.find((c: { name: string }) => c.name === 'manifest id matches the build').status, 'pass');
    const log = await readFile(join(cwd, 'console.log'), 'utf8');
    assert.match(log, /\| obs600 login: /);
    assert.doesNotMatch(log, /hunter2/);
    assert.deepEqual((await readdir(cwd)).filter((f) => f.includes('partial') || f.includes('.tmp')), []);
  } finally {
    await sim.stop();
    await rm(cwd, { recursive: true, force: true });
  }
});

test('console follows a whole install with the site file from init and the manifest found under out/<hostname>/', async () => {
  const sim = await Sim.start();
  const cwd = await mkdtemp(join(tmpdir(), 'obsbuild-console-cli-'));
  try {
    assert.equal((await runCli(['init'], { cwd })).exitCode, 0);
    const box = goodBox('m-follow');
    const root = await makeBoxRoot(sim.dir, box);
    await mkdir(join(cwd, 'out', 'obs600'), { recursive: true });
    await writeFile(join(cwd, 'out', 'obs600', 'manifest.json'), JSON.stringify({ id: 'm-follow' }));
    const cli = runCli(['console', '--port', sim.consolePath, '--check', '--budget', 'waiting=10'], { cwd });
    // the transcript file appears just before the port is opened
    const partial = () => readdirSync(join(cwd, 'out', 'obs600')).some((f) => f.endsWith('.partial'));
    await waitFor(partial, 10000, 'the CLI to start');
    await sleep(500);
    const board = (async () => {
      await sim.board.boot();
      await sim.board.installer(8);
      await sim.board.boot();
      await sim.board.firstboot(box.manifestId);
      await sim.board.login({ hostname: 'obs600', password: 'root', root, kernelChatter: true });
    })().catch(() => {});
    const r = await cli;
    await sim.board.shutdown();
    await board;
    if (process.env.OBSBUILD_CAPTURE) console.error(String(r.stderr));
    assert.equal(r.exitCode, 0, String(r.stderr));
    const err = String(r.stderr);
    assert.match(err, /install \[##########..........\] 4\/8 extracting rootfs/);
    assert.match(err, /phase install-done: power off, remove the USB stick, power on/);
    assert.match(err, /PASS  manifest id matches the build: manifest-id m-follow/);
    assert.match(err, /PASS  IPVS table matches the site file/);
    const logs = (await readdir(join(cwd, 'out', 'obs600'))).filter((f) => /^console-.*\.log$/.test(f));
    assert.equal(logs.length, 1);
  } finally {
    await sim.stop();
    await rm(cwd, { recursive: true, force: true });
  }
});

test('console on a missing port is a one-line error, exit 1', async () => {
  const r = await runCli(['console', '--port', '/nonexistent/ttyUSB9', '--check']);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /^obsbuild: \/nonexistent\/ttyUSB9: no such serial port/);
});

test('a bad --budget is a usage error, exit 2', async () => {
  const r = await runCli(['console', '--budget', 'nap=5']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /--budget nap=5/);
});

test('console --help lists port-lost and line-too-long, the reconnect budget and the transcript cap', async () => {
  const r = await runCli(['console', '--help']);
  assert.equal(r.exitCode, 0);
  const out = String(r.stdout);
  for (const word of ['port-lost', 'line-too-long', 'reconnect=10', '64 MiB']) assert.ok(out.includes(word), `help mentions ${word}`);
});

test('--budget values out of range are usage errors that say why, exit 2', async () => {
  const cases: [string, RegExp][] = [
    ['waiting=2200000', /--budget waiting=2200000: at most 2147483 s \(24\.8 days/], // past Node's timer limit
    ['boot=-5', /--budget boot=-5: must be more than 0 s/],
    ['login=0', /--budget login=0: must be more than 0 s/],
    ['reconnect=-1', /--budget reconnect=-1: must not be negative/],
    ['command=NaN', /--budget command=NaN: SECONDS must be a number of seconds/],
    ['command=1e3', /--budget command=1e3: SECONDS must be a number of seconds/],
    ['reboot=', /--budget reboot=: SECONDS must be a number of seconds/],
    [`boot=${'9'.repeat(400)}`, /at most 2147483 s/],
  ];
  for (const [item, re] of cases) {
    const r = await runCli(['console', '--port', '/nonexistent/ttyUSB9', '--budget', item]);
    assert.equal(r.exitCode, 2, `${item}: ${String(r.stderr)}`);
    assert.match(String(r.stderr), re);
    assert.equal(String(r.stderr).trim().split('\n').length, 1, String(r.stderr));
  }
  // 0 s is a valid reconnect budget (give up as soon as the port goes away): the run gets to the port
  const ok = await runCli(['console', '--port', '/nonexistent/ttyUSB9', '--budget', 'reconnect=0', '--budget', 'waiting=2147483']);
  assert.equal(ok.exitCode, 1, String(ok.stderr));
  assert.match(String(ok.stderr), /no such serial port/);
});

test('console with the site file records the box\'s SSH host keys in out/<hostname>/known_hosts, names it in --json; --help says so', async () => {
  const help = String((await runCli(['console', '--help'])).stdout);
  assert.match(help, /out\/<hostname>\/known_hosts/);
  assert.match(help, /hostKeysFile/);
  const sim = await Sim.start();
  const cwd = await mkdtemp(join(tmpdir(), 'obsbuild-console-cli-'));
  try {
    assert.equal((await runCli(['init'], { cwd })).exitCode, 0);
    const root = await makeBoxRoot(sim.dir, goodBox('m-keys'));
    await mkdir(join(root, 'etc/ssh'), { recursive: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'root@obs600', '-f', join(root, 'etc/ssh/ssh_host_ed25519_key')]);
    const pub = (await readFile(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).split(' ');
    const cli = runCli(['console', '--port', sim.consolePath, '--from', 'login', '--check', '--json', 'report.json', '--budget', 'login=15'], { cwd });
    const board = (async () => {
      await sim.board.readLine(true, 10000);
      await sim.board.login({ hostname: 'obs600', password: 'root', root });
    })().catch(() => {});
    const r = await cli;
    await sim.board.shutdown();
    await board;
    // the stand-in box differs from the init site (addresses), so the verdict may fail; the keys are recorded first
    assert.match(String(r.stderr), /recorded the box's SSH host keys \(ssh-ed25519\) in out\/obs600\/known_hosts under obs600/);
    const report = JSON.parse(await readFile(join(cwd, 'report.json'), 'utf8'));
    assert.equal(report.hostKeysFile, join('out', 'obs600', 'known_hosts'));
    assert.equal(await readFile(join(cwd, 'out', 'obs600', 'known_hosts'), 'utf8'), `obs600 ${pub[0]} ${pub[1]}\n`);
  } finally {
    await sim.stop();
    await rm(cwd, { recursive: true, force: true });
  }
});
