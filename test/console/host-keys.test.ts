import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knownHostsText, parseHostKeyLine, parseHostKeys, recordHostKeys } from '../../src/console/host-keys.js';
import type { CommandResult } from '../../src/console/shell.js';
import { Sim, goodBox, makeBoxRoot } from './simulator.js';
import { runAgainst } from './harness.js';

/** Real host keys, as a box's first boot makes them (ssh-keygen -A style), with root@box comments. */
async function realKeys(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of ['rsa', 'dsa', 'ecdsa', 'ed25519']) {
    const f = join(dir, `ssh_host_${t}_key`);
    execFileSync('ssh-keygen', ['-q', '-t', t, ...(t === 'rsa' ? ['-b', '1024'] : []), '-N', '', '-C', 'root@obs600', '-f', f]);
    out[t] = readFileSync(`${f}.pub`, 'utf8');
  }
  return out;
}

/** A well-formed ed25519 key blob with `n` in its key bytes. */
function edBlob(n: number): string {
  const name = Buffer.from('ssh-ed25519');
  const key = Buffer.alloc(32, n);
  const u32 = (v: number) => Buffer.from([0, 0, 0, v]);
  return Buffer.concat([u32(name.length), name, u32(32), key]).toString('base64');
}

function fakeRun(outputs: Record<string, string>, seen: string[] = []): (command: string) => Promise<CommandResult> {
  return async (command) => {
    seen.push(command);
    const key = Object.keys(outputs).find((k) => command.startsWith(k));
    return { command, exitCode: 0, output: key === undefined ? '' : outputs[key], durationMs: 1 };
  };
}

test('host keys: real rsa, dsa, ecdsa and ed25519 keys are recorded as "<hostname> <type> <key>" lines that ssh-keygen -F finds under the hostname', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-hostkeys-'));
  try {
    const keys = await realKeys(dir);
    const notes: string[] = [];
    const seen: string[] = [];
    const file = await recordHostKeys(fakeRun({ for: Object.values(keys).join('') }, seen), { outDir: join(dir, 'out'), hostnames: ['obs600'] }, (l) => notes.push(l));
    assert.equal(file, join(dir, 'out', 'obs600', 'known_hosts'));
    assert.match(seen[0], /\/etc\/ssh\/ssh_host_\*_key\.pub/);
    const text = await readFile(file!, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    for (const l of lines) assert.match(l, /^obs600 (ssh-rsa|ssh-dss|ecdsa-sha2-nistp256|ssh-ed25519) [A-Za-z0-9+/]+=*$/);
    assert.ok(!text.includes('root@obs600'), 'comments are not copied');
    for (const pub of Object.values(keys)) assert.ok(text.includes(pub.split(' ')[1]));
    // the format OpenSSH itself reads: ssh-keygen -F finds every key under the alias, none under the address
    const found = execFileSync('ssh-keygen', ['-F', 'obs600', '-f', file!], { encoding: 'utf8' });
    assert.equal(found.split('\n').filter((l) => l.startsWith('obs600 ')).length, 4);
    assert.throws(() => execFileSync('ssh-keygen', ['-F', '192.168.253.254', '-f', file!], { stdio: 'ignore' }));
    assert.match(notes.join('\n'), /recorded the box's SSH host keys \(ssh-rsa, ssh-dss, ecdsa-sha2-nistp256, ssh-ed25519\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('host keys: hostile or broken key lines are refused and nothing is written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-hostkeys-'));
  try {
    const keys = await realKeys(dir);
    const ed = keys.ed25519.trim();
    const [, edB64] = ed.split(' ');
    const rsaB64 = keys.rsa.split(' ')[1];
    const hostile: [string, RegExp][] = [
      [`@cert-authority * ${ed}`, /key type "@cert-authority"/],
      [`@revoked obs600 ${ed}`, /key type "@revoked"/],
      [`ssh-ed25519 ${rsaB64} root@x`, /does not say ssh-ed25519/],
      [`ssh-rsa ${edB64}`, /does not say ssh-rsa/],
      [`ssh-ed25519 ${edB64.slice(0, -4)}!!!!`, /not base64/],
      [`ssh-ed25519 ${edB64.slice(1)}`, /not base64|does not say/],
      [`ssh-ed25519 ${edB64}\x1b]0;owned\x07`, /control character/],
      [`ssh-ed25519`, /is not "type base64/],
      [`ssh-foo ${edB64}`, /key type "ssh-foo"/],
      [`ssh-rsa ${'A'.repeat(20000)}`, /longer than any host key/],
      ['cat: /etc/ssh/ssh_host_*_key.pub: Permission denied', /key type "cat:"/],
    ];
    for (const [line, why] of hostile) {
      const p = parseHostKeyLine(line);
      assert.equal(typeof p, 'string', line.slice(0, 60));
      assert.match(p as string, why, line.slice(0, 60));
    }
    // one bad line among good ones: the whole set is refused, with the line number
    assert.throws(() => parseHostKeys(`${keys.rsa}${ed}\n@cert-authority * ${ed}\n`), /^Error: line 3 key type "@cert-authority"/);
    const many = Array.from({ length: 17 }, (_, i) => `ssh-ed25519 ${edBlob(i)}`).join('\n');
    assert.equal(parseHostKeys(many.split('\n').slice(0, 16).join('\n')).length, 16);
    assert.throws(() => parseHostKeys(many), /more than 16 host keys/);
    assert.throws(() => knownHostsText('obs600,*', [{ type: 'ssh-ed25519', base64: edB64 }]), /cannot be a host key alias/);
    assert.throws(() => knownHostsText('obs600\n@cert-authority', [{ type: 'ssh-ed25519', base64: edB64 }]), /cannot be a host key alias/);

    const notes: string[] = [];
    const out = join(dir, 'out');
    await mkdir(join(out, 'obs600'), { recursive: true });
    await writeFile(join(out, 'obs600', 'known_hosts'), 'obs600 ssh-ed25519 OLD\n');
    const file = await recordHostKeys(fakeRun({ for: `${keys.rsa}ssh-ed25519 ${rsaB64}\n` }), { outDir: out, hostnames: ['obs600'] }, (l) => notes.push(l));
    assert.equal(file, null);
    assert.match(notes[0], /^SSH host keys not recorded: \/etc\/ssh\/ssh_host_\*_key\.pub on the box: line 2 the key blob does not say ssh-ed25519$/);
    assert.equal(await readFile(join(out, 'obs600', 'known_hosts'), 'utf8'), 'obs600 ssh-ed25519 OLD\n', 'an earlier record stays as it was');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('host keys: a box without sshd records nothing; an HA pair without --node takes the hostname the box reports, if it is one of the pair', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-hostkeys-'));
  try {
    const keys = await realKeys(dir);
    const notes: string[] = [];
    assert.equal(await recordHostKeys(fakeRun({}), { outDir: join(dir, 'a'), hostnames: ['obs600'] }, (l) => notes.push(l)), null);
    assert.match(notes[0], /the box has none .*no sshd/);
    assert.equal(existsSync(join(dir, 'a')), false);
    const pair = { outDir: join(dir, 'b'), hostnames: ['lb-a', 'lb-b'] };
    assert.equal(await recordHostKeys(fakeRun({ hostname: 'lb-b\n', for: keys.ed25519 }), pair, () => {}), join(dir, 'b', 'lb-b', 'known_hosts'));
    assert.match(await readFile(join(dir, 'b', 'lb-b', 'known_hosts'), 'utf8'), /^lb-b ssh-ed25519 \S+\n$/);
    assert.equal(await recordHostKeys(fakeRun({ hostname: 'intruder\n', for: keys.ed25519 }), pair, (l) => notes.push(l)), null);
    assert.match(notes[1], /hostname is "intruder", not one of the site's \(lb-a, lb-b\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('console: after login on the simulated board the host keys in its /etc/ssh are recorded and named in the report', async () => {
  const sim = await Sim.start();
  try {
    const box = goodBox();
    const root = await makeBoxRoot(sim.dir, box);
    await mkdir(join(root, 'etc/ssh'), { recursive: true });
    const keys = await realKeys(join(root, 'etc/ssh'));
    const events: string[] = [];
    const outDir = join(sim.dir, 'out');
    const { report, transcript } = await runAgainst(
      sim,
      async ({ board }) => {
        await board.login({ hostname: 'obs600', password: 'root', root });
      },
      { mode: 'login', hostKeys: { outDir, hostnames: ['obs600'] }, onEvent: (e) => events.push(e) },
    );
    assert.equal(report.failure, null, JSON.stringify(report.failure));
    assert.equal(report.hostKeysFile, join(outDir, 'obs600', 'known_hosts'));
    const text = await readFile(report.hostKeysFile!, 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 4);
    for (const pub of Object.values(keys)) assert.ok(text.includes(`obs600 ${pub.split(' ').slice(0, 2).join(' ')}\n`));
    assert.match(transcript, / -- recorded the box's SSH host keys/);
    assert.ok(events.some((e) => e.startsWith("recorded the box's SSH host keys")));
  } finally {
    await sim.stop();
  }
});
