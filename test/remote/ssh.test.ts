import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { shQuote } from '../../src/remote/sh-quote.js';
import { sshArgs, type SshConnectionConfig } from '../../src/remote/ssh-options.js';
import { alive, OUTPUT_CAP, putFileScript, SshShell } from '../../src/remote/ssh.js';
import { UserError } from '../../src/util/errors.js';
import { keygen, freePort, LennySshd, sshdUnavailable } from './lenny-sshd.js';

const skip = sshdUnavailable();
let sshd: LennySshd;
let work: string;

before(async () => {
  if (skip) return;
  sshd = await LennySshd.start();
  work = mkdtempSync(join(tmpdir(), 'obsbuild-ssh-test-'));
});
after(async () => {
  if (skip) return;
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
});

let n = 0;
/** A fresh known-hosts file (in a folder whose name ssh would otherwise split and expand) and options. */
function config(over: Partial<SshConnectionConfig> = {}): SshConnectionConfig {
  const dir = join(work, `k h%d-${n++}`);
  mkdirSync(dir);
  return {
    target: { user: 'root', host: '127.0.0.1', port: sshd.port },
    knownHostsFile: join(dir, 'known_hosts'),
    identityFile: sshd.userKey,
    configFile: 'none', // independent of this machine's ~/.ssh/config
    ...over,
  };
}

function pinned(): SshConnectionConfig {
  const c = config();
  writeFileSync(c.knownHostsFile, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
  return c;
}

function ssh(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** Ends a process a test started on the box (this machine), by the id it recorded, if it got that far. */
function killRecorded(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
  } catch {
    /* already gone */
  }
}

async function openFails(c: SshConnectionConfig): Promise<UserError> {
  try {
    const s = await SshShell.open(c);
    await s.close();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.doesNotMatch(e.message, /\n/, 'one line');
    assert.match(e.message, new RegExp(`^ssh root@127\\.0\\.0\\.1:${sshd.port}: `), 'names the host');
    return e;
  }
  assert.fail('open() succeeded');
}

test('plain ssh without the lenny options is refused by a server offering what lenny offers', { skip: skip ?? false }, async () => {
  const c = config({ acceptNewHostKey: true });
  const r = await ssh(['-F', 'none', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${join(work, 'plain_kh')}`, '-o', 'StrictHostKeyChecking=accept-new', '-i', sshd.userKey, '-p', String(sshd.port), 'root@127.0.0.1', 'true']);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /no matching host key type found\. Their offer: ssh-rsa/);
  // Through obsbuild's options, a direct connection (no master) negotiates exactly lenny's algorithms.
  const v = await ssh(['-v', ...sshArgs(c, join(work, 'no-master'), 'client'), 'echo connected']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, 'connected\n');
  assert.match(v.stderr, /kex: algorithm: diffie-hellman-group-exchange-sha256/);
  assert.match(v.stderr, /kex: host key algorithm: ssh-rsa/);
  assert.match(v.stderr, /client->server cipher: aes128-ctr MAC: hmac-sha1/);
});

test('accept-new records the host key, says so, and a strict connection then uses it', { skip: skip ?? false }, async () => {
  const c = config({ acceptNewHostKey: true });
  const notices: string[] = [];
  const s = await SshShell.open({ ...c, onNotice: (l) => notices.push(l) });
  await s.close();
  const [, keyB64] = sshd.hostKeyPub.split(' ');
  assert.equal(readFileSync(c.knownHostsFile, 'utf8'), `[127.0.0.1]:${sshd.port} ssh-rsa ${keyB64}\n`);
  assert.equal(notices.length, 2, notices.join('\n'));
  assert.match(notices[0], /ssh-rsa host key and user key signatures are allowed for this host only/);
  assert.match(notices[1], /recorded the box's host key in .*known_hosts/);
  const strict = await SshShell.open({ ...c, acceptNewHostKey: false, onNotice: (l) => notices.push(l) });
  assert.equal((await strict.run('echo ok')).stdout, 'ok\n');
  await strict.close();
  assert.equal(notices.length, 3, 'a known key is not announced again');
});

test('an unknown host key is refused without --accept-new-host-key, in one line naming the host', { skip: skip ?? false }, async () => {
  const e = await openFails(config());
  assert.match(e.message, /no host key recorded for it in .*known_hosts: .*--accept-new-host-key/);
});

test('a changed host key is refused in one line, even with accept-new', { skip: skip ?? false }, async () => {
  const c = config({ acceptNewHostKey: true });
  const other = keygen(join(work, `other-host-${n++}`));
  writeFileSync(c.knownHostsFile, `[127.0.0.1]:${sshd.port} ${other}\n`);
  const e = await openFails(c);
  assert.match(e.message, /host key differs from the one recorded in .*known_hosts/);
  assert.equal(readFileSync(c.knownHostsFile, 'utf8'), `[127.0.0.1]:${sshd.port} ${other}\n`, 'the pin is untouched');
});

test('refused authentication and a refused connection are one-line errors naming the host', { skip: skip ?? false }, async () => {
  const c = pinned();
  const stranger = join(work, `stranger-${n++}`);
  keygen(stranger);
  assert.match((await openFails({ ...c, identityFile: stranger })).message, /authentication refused \(publickey\)/);
  const closedPort = await freePort();
  const e = await SshShell.open({ ...c, target: { ...c.target, port: closedPort } }).then(
    () => assert.fail('connected to a closed port'),
    (err: unknown) => err as UserError,
  );
  assert.ok(e instanceof UserError);
  assert.equal(e.message, `ssh root@127.0.0.1:${closedPort}: connection refused: is sshd running and listening on that port?`);
});

test('run() passes exit status and output through, quoting the command once', { skip: skip ?? false }, async () => {
  const s = await SshShell.open(pinned());
  try {
    assert.deepEqual(await s.run('exit 7'), { exitCode: 7, stdout: '' });
    assert.deepEqual(await s.run('exit 255'), { exitCode: 255, stdout: '' }, "a command's own 255 is not ssh's failure");
    assert.deepEqual(await s.run('echo out; echo err >&2; false'), { exitCode: 1, stdout: 'out\nerr\n' });
    const weird = `it's "$HOME" \`id\` \\ ; * \n%s -- -x`;
    assert.deepEqual(await s.run(`printf %s ${shQuote(weird)}`), { exitCode: 0, stdout: weird });
    // The session's pipes live in the master until the remote command ends: the timeout must not wait for that.
    const sleeper = join(work, `sleeper-${n++}`);
    let started = Date.now();
    await assert.rejects(s.run(`echo $$ > ${shQuote(sleeper)}; exec sleep 60`, { timeoutMs: 5000 }), (e: Error) => e instanceof UserError && /^ssh root@127\.0\.0\.1:\d+: `echo \$\$ > .*` did not finish within 5 s; stopped$/.test(e.message));
    assert.ok(Date.now() - started < 30_000, `the timeout ended the wait (${Date.now() - started} ms)`);
    killRecorded(sleeper);
    assert.deepEqual(await s.run('echo still; exit 3'), { exitCode: 3, stdout: 'still\n' }, 'usable after a timeout');
    // A background process holding the session's output open keeps the session alive after ssh itself has
    // gone; the timeout must still end the wait.
    const pidFile = join(work, `bg-${n++}`);
    started = Date.now();
    await assert.rejects(s.run(`sleep 30 & echo $! > ${shQuote(pidFile)}; echo bg`, { timeoutMs: 5000 }), /did not finish within 5 s/);
    assert.ok(Date.now() - started < 20_000, `the timeout ended the wait (${Date.now() - started} ms)`);
    killRecorded(pidFile);
  } finally {
    await s.close();
  }
});

test('putFile writes binary bytes with the given mode, checked by sha256 on the box', { skip: skip ?? false }, async () => {
  const s = await SshShell.open(pinned());
  try {
    const dir = join(work, `put dir 'q' ${n++}`);
    mkdirSync(dir);
    const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(1024 * 1024 + 3)]);
    const target = join(dir, "keepalived.conf 'x'");
    writeFileSync(target, 'old');
    await s.putFile(target, bytes, 0o640);
    assert.ok(readFileSync(target).equals(bytes));
    const r = await s.run(`stat -c %a ${shQuote(target)}; sha256sum < ${shQuote(target)}; ls -A ${shQuote(dir)}`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.equal(r.stdout, `640\n${sha}  -\nkeepalived.conf 'x'\n`, 'mode, content, and no temporary file left');
    await s.putFile(join(dir, 'empty'), new Uint8Array(0), 0o755);
    assert.equal(readFileSync(join(dir, 'empty')).length, 0);
    await assert.rejects(s.putFile(join(dir, 'missing', 'f'), bytes, 0o644), (e: Error) => e instanceof UserError && /putFile .*missing\/f: failed on the box \(exit \d+\)/.test(e.message) && !e.message.includes('\n'));
    await assert.rejects(s.putFile('relative/path', bytes, 0o644), /needs an absolute path/);
    await assert.rejects(s.putFile(join(dir, 'f'), bytes, 0o10000), /is not a permission/);
  } finally {
    await s.close();
  }
});

test('one control master carries every command of a job (one login), and close() leaves nothing behind', { skip: skip ?? false }, async () => {
  const loginsBefore = sshd.acceptedLogins();
  const s = await SshShell.open(pinned());
  for (let i = 0; i < 10; i++) assert.equal((await s.run(`echo ${i}`)).stdout, `${i}\n`);
  await s.putFile(join(work, `mux-${n++}`), Buffer.from('x'), 0o600);
  assert.equal(sshd.acceptedLogins() - loginsBefore, 1, sshd.logText);
  assert.ok(alive(s.masterPid), 'the master runs');
  assert.ok(existsSync(s.controlPath), 'its socket exists');
  assert.ok(s.controlPath.length < 100, `control path fits a unix socket: ${s.controlPath}`);
  await s.close();
  assert.equal(alive(s.masterPid), false, 'the master is gone');
  assert.equal(existsSync(s.controlPath), false, 'its socket is gone');
  await s.close(); // twice is fine
});

test('output over the cap stops the command with a one-line error; the shell stays usable', { skip: skip ?? false }, async () => {
  const s = await SshShell.open(pinned());
  try {
    assert.equal((await s.run(`head -c ${OUTPUT_CAP} /dev/zero`)).stdout.length, OUTPUT_CAP, 'exactly the cap is fine');
    await assert.rejects(s.run(`head -c ${OUTPUT_CAP + 1} /dev/zero`), (e: Error) => e instanceof UserError && /printed more than 16 MiB; stopped$/.test(e.message));
    assert.equal((await s.run('echo fine')).stdout, 'fine\n');
  } finally {
    await s.close();
  }
});

test("the user's ssh config is read (host aliases, jump hosts) but cannot loosen what obsbuild pins", { skip: skip ?? false }, async () => {
  const cfgFile = join(work, `ssh_config-${n++}`);
  writeFileSync(
    cfgFile,
    [
      'Host lenny-lb',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      '  User root',
      '  StrictHostKeyChecking no',
      '  UserKnownHostsFile /dev/null',
      '  RemoteCommand echo hijacked',
      '  RequestTTY yes',
      '  ControlMaster no',
      '',
    ].join('\n'),
  );
  const c = config({ configFile: cfgFile, target: { host: 'lenny-lb', port: sshd.port } });
  const e = await SshShell.open(c).then(
    () => assert.fail('an unknown key was accepted'),
    (err: unknown) => err as Error,
  );
  assert.match(e.message, /^ssh lenny-lb:\d+: no host key recorded for it/);
  // ssh looks the key up under the address the config resolved the alias to.
  writeFileSync(c.knownHostsFile, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
  const s = await SshShell.open(c);
  try {
    assert.deepEqual(await s.run('id -un; tty'), { exitCode: 1, stdout: 'root\nnot a tty\n' });
  } finally {
    await s.close();
  }
  // A key the console recorded under the node's name is found with hostKeyAlias, whatever address is used.
  writeFileSync(c.knownHostsFile, `master ${sshd.hostKeyPub}\n`);
  const aliased = await SshShell.open({ ...c, hostKeyAlias: 'master' });
  await aliased.close();
});

test("putFile's box-side script refuses bytes whose sha256 differs and leaves the old file alone", () => {
  const dir = mkdtempSync(join(tmpdir(), 'obsbuild-putfile-'));
  try {
    const target = join(dir, 'keepalived.conf');
    writeFileSync(target, 'old');
    const meant = createHash('sha256').update('meant').digest('hex');
    const r = spawnSync('sh', ['-c', `exec 2>&1\n${putFileScript(target, meant, 0o644)}`], { input: 'damaged', encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stdout, new RegExp(`^sha256 on the box is [0-9a-f]{64}, not ${meant}\n$`));
    assert.equal(readFileSync(target, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['keepalived.conf'], 'no temporary file left');
    const ok = spawnSync('sh', ['-c', putFileScript(target, meant, 0o600)], { input: 'meant' });
    assert.equal(ok.status, 0);
    assert.equal(readFileSync(target, 'utf8'), 'meant');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a box that accepts TCP but never speaks SSH times out with one line naming the host', { skip: skip ?? false }, async () => {
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    const c = config({ target: { user: 'root', host: '127.0.0.1', port }, connectTimeoutS: 1 });
    const e = await SshShell.open(c).then(
      () => assert.fail('connected to a silent port'),
      (err: unknown) => err as Error,
    );
    assert.ok(e instanceof UserError);
    assert.equal(e.message, `ssh root@127.0.0.1:${port}: connection timed out`);
  } finally {
    silent.close();
  }
});

test("putFile's box-side script sets the owner it is given (as root), before the mode, so a mode's bits survive chown", () => {
  const dir = mkdtempSync(join(tmpdir(), 'obsbuild-putfile-owner-'));
  try {
    const target = join(dir, 'motd');
    const sha = createHash('sha256').update('hello\n').digest('hex');
    const r = spawnSync('sh', ['-c', `exec 2>&1\n${putFileScript(target, sha, 0o2750, { uid: 1, gid: 4 })}`], { input: 'hello\n', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
    const st = statSync(target);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1, 4, 0o2750]);
    assert.doesNotMatch(putFileScript(target, sha, 0o644), /chown/, 'no owner given: none set');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
