/**
 * One control master vs a connection per command: 20 commands against a private sshd that offers what
 * lenny's OpenSSH 5.1 offers (needs root and openssh-server). Run: node dist/scripts/bench-ssh.js
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sshArgs, type SshConnectionConfig } from '../src/remote/ssh-options.js';
import { SshShell } from '../src/remote/ssh.js';
import { LennySshd, sshdUnavailable } from '../test/remote/lenny-sshd.js';

const COMMANDS = 20;

async function main(): Promise<void> {
  const why = sshdUnavailable();
  if (why) {
    console.log(`bench-ssh: skipped: ${why}`);
    return;
  }
  const sshd = await LennySshd.start({ quietShell: true });
  const work = mkdtempSync(join(tmpdir(), 'obsbuild-bench-ssh-'));
  try {
    const cfg: SshConnectionConfig = {
      target: { user: 'root', host: '127.0.0.1', port: sshd.port },
      knownHostsFile: join(work, 'known_hosts'),
      identityFile: sshd.userKey,
      configFile: 'none',
    };
    writeFileSync(cfg.knownHostsFile, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    // Interleaved, so the machine's changing load hits both ways alike; each remote command also starts the
    // account's login shell (with an empty ~/.bashrc here), which both ways pay.
    const direct = sshArgs(cfg, join(work, 'none'), 'client'); // no master there: each ssh connects on its own
    const fresh = () => new Promise<void>((resolve, reject) => execFile('ssh', [...direct, 'true'], (err) => (err ? reject(err) : resolve())));
    const loginsBefore = sshd.acceptedLogins();
    let t = performance.now();
    const s = await SshShell.open(cfg);
    const openMs = performance.now() - t;
    const mux: number[] = [];
    const own: number[] = [];
    for (let i = 0; i < COMMANDS; i++) {
      t = performance.now();
      await s.run('true');
      mux.push(performance.now() - t);
      t = performance.now();
      await fresh();
      own.push(performance.now() - t);
    }
    await s.close();
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    console.log(`${COMMANDS} commands over one master: ${(openMs + sum(mux)).toFixed(0)} ms in all (open ${openMs.toFixed(0)} ms, median ${median(mux).toFixed(0)} ms a command)`);
    console.log(`${COMMANDS} commands on fresh connections: ${sum(own).toFixed(0)} ms in all (median ${median(own).toFixed(0)} ms a command)`);
    console.log(`logins counted by sshd: ${sshd.acceptedLogins() - loginsBefore} (1 master + ${COMMANDS} fresh)`);
  } finally {
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
