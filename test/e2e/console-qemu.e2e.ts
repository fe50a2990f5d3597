/**
 * A real Linux boot on the console: QEMU (TCG, no network) boots Debian's kernel with a busybox initramfs
 * whose /init prints first-boot markers and runs getty + login on ttyS0 with a root password. QEMU starts
 * paused; obsbuild opens the pty, then the monitor says `cont`, so no early byte is lost. obsbuild follows
 * the boot, logs in through the real getty/login, and reads real exit statuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialTransport } from '../../src/console/transport.js';
import { runConsole } from '../../src/console/session.js';
import { Transcript } from '../../src/console/report.js';
import { DEFAULT_BUDGETS } from '../../src/console/phases.js';
import type { CheckResult } from '../../src/console/checks.js';
import { ensureTool, sleep, waitFor } from '../console/simulator.js';

const PASSWORD = 'qemu-Root-1';

async function kernelPath(): Promise<string> {
  const k = (await readdir('/boot')).filter((f) => f.startsWith('vmlinuz-')).sort().pop();
  if (!k) {
    execFileSync('apt-get', ['install', '-y', '-q', 'linux-image-amd64'], { stdio: 'ignore' });
    return kernelPath();
  }
  return join('/boot', k);
}

async function buildInitramfs(dir: string): Promise<string> {
  const root = join(dir, 'initramfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'tmp']) await mkdir(join(root, d), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  const hash = execFileSync('/bin/busybox', ['mkpasswd', '-m', 'sha512', PASSWORD], { encoding: 'utf8' }).trim();
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/shadow'), `root:${hash}:19000:0:99999:7:::\n`);
  await writeFile(join(root, 'etc/group'), 'root:x:0:\n');
  await writeFile(
    join(root, 'init'),
    `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
hostname obs600
echo "obsbuild-firstboot: [1/2] mounting filesystems"
echo "obsbuild-firstboot: [1/2] ok"
echo "obsbuild-firstboot: [2/2] depmod -a"
echo "obsbuild-firstboot: [2/2] ok"
echo "obsbuild-firstboot: done manifest=qemu-e2e"
while true; do setsid getty -L 115200 ttyS0 vt100; sleep 1; done
`,
  );
  await chmod(join(root, 'init'), 0o755);
  const out = join(dir, 'initramfs.cpio.gz');
  execFileSync('sh', ['-c', `cd ${JSON.stringify(root)} && find . | cpio -o -H newc --quiet | gzip -1 > ${JSON.stringify(out)}`]);
  return out;
}

function monitor(sock: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = connect(sock, () => {
      c.write(`${command}\n`);
      setTimeout(() => {
        c.end();
        resolve();
      }, 200);
    });
    c.on('error', reject);
  });
}

test('QEMU boot: obsbuild follows first boot, logs in through getty/login and reads real exit statuses', { timeout: 120_000 }, async () => {
  ensureTool('qemu-system-x86_64', 'qemu-system-x86');
  ensureTool('cpio', 'cpio');
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-qemu-'));
  const mon = join(dir, 'mon.sock');
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-accel', 'tcg', '-m', '256', '-smp', '1', '-display', 'none', '-no-reboot', '-nic', 'none', '-S',
      '-monitor', `unix:${mon},server=on,wait=off`,
      '-chardev', `pty,id=s0,logfile=${join(dir, 'serial.log')}`, '-serial', 'chardev:s0',
      '-kernel', await kernelPath(), '-initrd', await buildInitramfs(dir),
      '-append', 'console=ttyS0,115200 panic=-1 quiet',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // QEMU announces the pty on stdout ("char device redirected to /dev/pts/N"), errors on stderr
  let stderr = '';
  qemu.stdout!.on('data', (b: Buffer) => (stderr += b.toString()));
  qemu.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await waitFor(() => /char device redirected to (\/dev\/pts\/\d+)/.test(stderr) || qemu.exitCode !== null, 10000, 'QEMU pty');
    assert.equal(qemu.exitCode, null, `QEMU exited: ${stderr}`);
    const pty = /char device redirected to (\/dev\/pts\/\d+)/.exec(stderr)![1];
    const transport = new SerialTransport({ path: pty, baudRate: 115200 });
    const chunks: Buffer[] = [];
    const started = Date.now();
    const run = runConsole({
      transport,
      portLabel: pty,
      baudRate: 115200,
      mode: 'follow',
      user: 'root',
      password: PASSWORD,
      budgets: { ...DEFAULT_BUDGETS, waiting: 30_000, boot: 60_000, login: 30_000, command: 20_000 },
      site: null,
      manifestId: null,
      transcript: new Transcript({ write: (c: string | Buffer) => chunks.push(Buffer.from(c)) }),
      checks: async (sh) => {
        const out: CheckResult[] = [];
        for (const cmd of ['true', 'false', 'uname -r', 'ls /nonexistent', 'echo "a b"; exit_code_test() { return 3; }; exit_code_test']) {
          const r = await sh(cmd);
          out.push({ name: cmd, status: 'pass', command: cmd, exitCode: r.exitCode, output: r.output, evidence: '' });
        }
        return out;
      },
    });
    await waitFor(() => transport.connected, 5000, 'pty open');
    await sleep(1000); // QEMU polls for the pty client before it forwards output
    await monitor(mon, 'cont');
    const report = await run;
    const transcript = Buffer.concat(chunks).toString('latin1');
    assert.equal(report.failure, null, `${JSON.stringify(report.failure)}\n${transcript.slice(-3000)}`);
    const by = Object.fromEntries(report.checks.map((c) => [c.command, c]));
    assert.equal(by['true'].exitCode, 0);
    assert.equal(by['false'].exitCode, 1);
    const kernel = (await kernelPath()).replace('/boot/vmlinuz-', '');
    assert.equal(by['uname -r'].output.trim(), kernel);
    assert.notEqual(by['ls /nonexistent'].exitCode, 0);
    assert.match(by['ls /nonexistent'].output, /No such file/);
    assert.equal(by['echo "a b"; exit_code_test() { return 3; }; exit_code_test'].exitCode, 3);
    assert.equal(by['echo "a b"; exit_code_test() { return 3; }; exit_code_test'].output, 'a b\n');
    assert.equal(report.manifestIdSeen, 'qemu-e2e');
    assert.deepEqual(report.phases.map((p) => p.name), ['waiting', 'boot', 'first-boot', 'login', 'shell', 'checks']);
    // The prompt's trailing space may arrive in the next read and land on the next transcript line.
    assert.match(transcript, /\| obs600 login:/);
    console.log(`# QEMU: verdict ${((Date.now() - started) / 1000).toFixed(1)} s after spawn; phases ${report.phases.map((p) => `${p.name}=${p.durationMs}ms`).join(' ')}`);
  } finally {
    if (qemu.exitCode === null) {
      const exited = once(qemu, 'exit');
      qemu.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
});
