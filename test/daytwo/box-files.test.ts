import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BoxShell, RunResult } from '../../src/remote/box-shell.js';
import { SshShell } from '../../src/remote/ssh.js';
import { BOX_FILE_MAX_BYTES, BOX_FILES_TOTAL_MAX_BYTES, boxFilesRequest, parseBoxFiles, readBoxFiles, readFilesScript } from '../../src/daytwo/box-files.js';
import { BATCH_OUTPUT_CAP, runBatch } from '../../src/daytwo/batch.js';
import { UserError } from '../../src/util/errors.js';
import { LennySshd, sshdUnavailable } from '../remote/lenny-sshd.js';

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'obsbuild-boxfiles-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** This machine's /bin/sh (dash, as on lenny) as the box, the way SshShell runs a script; counts the runs. */
function localShell(): BoxShell & { runs: number } {
  return {
    runs: 0,
    async run(command: string): Promise<RunResult> {
      this.runs++;
      const r = spawnSync('/bin/sh', ['-c', `exec 2>&1\n${command}`], { maxBuffer: 64 * 1024 * 1024, cwd: work });
      return { exitCode: r.status ?? -1, stdout: r.stdout.toString('utf8') };
    },
    async putFile() {
      throw new Error('no');
    },
    async close() {},
  };
}

test('readBoxFiles reads every file in one command: hash and bytes, missing and non-files as null, odd names quoted', async () => {
  const dir = join(work, 'one');
  mkdirSync(dir);
  const names = ['plain.conf', "it's here", 'sp ace $(touch pwned) `x`', 'empty', 'bin'];
  const contents = ['a = 1\n', 'q\n', 'x\n', '', randomBytes(1000)];
  names.forEach((n, i) => writeFileSync(join(dir, n), contents[i]));
  const shell = localShell();
  const paths = [...names.map((n) => join(dir, n)), join(dir, 'missing'), dir];
  const got = await readBoxFiles(shell, paths, 'box1');
  assert.equal(shell.runs, 1);
  names.forEach((n, i) => {
    const f = got.get(join(dir, n))!;
    assert.ok(f, n);
    assert.equal(f.sha256, sha(Buffer.from(contents[i])), n);
    assert.deepEqual(f.bytes, Buffer.from(contents[i]));
    assert.equal(f.truncated, false);
  });
  assert.equal(got.get(join(dir, 'missing')), null);
  assert.equal(got.get(dir), null, 'a directory is not a file');
  assert.ok(!existsSync(join(work, 'pwned')), 'names are not run');
});

test('a file over the cap is hashed whole but sent only in part; the total sent is capped too', async () => {
  const dir = join(work, 'big');
  mkdirSync(dir);
  const big = randomBytes(BOX_FILE_MAX_BYTES + 5000);
  const paths: string[] = [];
  for (let i = 0; i < Math.ceil(BOX_FILES_TOTAL_MAX_BYTES / BOX_FILE_MAX_BYTES) + 1; i++) {
    paths.push(join(dir, `f${i}`));
    writeFileSync(paths[i], big);
  }
  const got = await readBoxFiles(localShell(), paths);
  const first = got.get(paths[0])!;
  assert.equal(first.sha256, sha(big));
  assert.equal(first.size, big.length);
  assert.equal(first.truncated, true);
  assert.deepEqual(first.bytes, big.subarray(0, BOX_FILE_MAX_BYTES));
  const sent = [...got.values()].reduce((n, f) => n + f!.bytes.length, 0);
  assert.equal(sent, BOX_FILES_TOTAL_MAX_BYTES);
  assert.equal(got.get(paths.at(-1)!)!.bytes.length, 0, 'nothing left for the last one');
  assert.equal(got.get(paths.at(-1)!)!.sha256, sha(big), 'but still hashed');
});

test('paths that are not absolute or hold control characters are refused before anything runs', async () => {
  const shell = localShell();
  await assert.rejects(readBoxFiles(shell, ['etc/hosts'], 'box1'), /^UserError: box1: cannot read "etc\/hosts"/);
  await assert.rejects(readBoxFiles(shell, ['/etc/a\nb'], 'box1'), /needs an absolute path without control characters/);
  assert.equal(shell.runs, 0);
});

test('output that is not what the script prints is a one-line error naming the box', () => {
  const paths = ['/etc/a', '/etc/b'];
  const good = `@@obsbuild-files-begin\n@@obsbuild-file 0 F 3 ${sha('hi\n')} 3\naGkK\n@@obsbuild-file 1 M\n@@obsbuild-files-end\n`;
  const ok = parseBoxFiles(`Welcome to lenny\n${good}`, paths, 'box1');
  assert.equal(ok[0]!.bytes.toString(), 'hi\n');
  assert.equal(ok[1], null);
  assert.deepEqual(parseBoxFiles(good.replace(/\n/g, '\r\n'), paths, 'box1'), ok, 'CR LF line ends, as a serial tty may print them');
  const bad: [string, RegExp][] = [
    ['nothing', /no start marker/],
    [good.replace('@@obsbuild-files-end\n', ''), /no end marker/],
    [good.replace('@@obsbuild-file 1 M', '@@obsbuild-file 0 M'), /file #0 where #1 \(\/etc\/b\) was expected/],
    [good.replace('aGkK', 'aGk*'), /in \/etc\/a: aGk\*/],
    [good.replace('aGkK\n', 'aGkKaGkK\n'), /\/etc\/a: 8 base64 characters for 3 bytes/],
    [good.replace(' 3\naGkK', ' 4\naGkK'), /unexpected output/],
    [good.replace('@@obsbuild-file 1 M', '@@obsbuild-file 1 F 99999999999999999999 x 1'), /unexpected output/],
    [good.replace('aGkK', 'aGoK'), /box1: \/etc\/a changed while it was read/],
    [good.replace('@@obsbuild-file 1 M', '\x1b[2J@@obsbuild-file 1 M'), /\\x1b\[2J/],
    [`${good.slice(0, -25)}${'A'.repeat(4_000_000)}\n`, /characters, more than the files can account for/],
  ];
  for (const [out, why] of bad) {
    assert.throws(
      () => parseBoxFiles(out, paths, 'box1'),
      (e: unknown) => e instanceof UserError && /^box1: /.test(e.message) && !e.message.includes('\n') && why.test(e.message),
      why.source,
    );
  }
});

test('a file sent whole is hashed from what arrives; one that grew or shrank after its size was taken is an error, not a wrong file', () => {
  const paths = ['/etc/a', '/etc/b'];
  const good = `@@obsbuild-files-begin\n@@obsbuild-file 0 F 3 - 3\naGkK\n@@obsbuild-file 1 M\n@@obsbuild-files-end\n`;
  const [a] = parseBoxFiles(good, paths, 'box1');
  assert.deepEqual([a!.sha256, a!.bytes.toString(), a!.truncated], [sha('hi\n'), 'hi\n', false]);
  const bad: [string, RegExp][] = [
    [good.replace('aGkK\n', 'aGkKaGkK\n'), /box1: \/etc\/a changed while it was read/], // grew
    [good.replace('aGkK\n', 'aGkK\naGkK\n'), /box1: \/etc\/a changed while it was read/], // grew by a whole line
    [good.replace('aGkK\n', ''), /box1: \/etc\/a changed while it was read/], // emptied
    [good.replace('aGkK\n', 'aGk=\n'), /box1: \/etc\/a changed while it was read/], // shrank
    [good.replace(' F 3 - 3', ' F 4 - 3'), /unexpected output while reading files: @@obsbuild-file 0 F 4 - 3$/], // a cut file must carry the box's hash
  ];
  for (const [out, why] of bad) {
    assert.throws(() => parseBoxFiles(out, paths, 'box1'), (e: unknown) => e instanceof UserError && !e.message.includes('\n') && why.test(e.message), why.source);
  }
});

test('the box starts two programs per small file (wc, base64), not four: sha256sum and head only for a file over the cap', async () => {
  const dir = join(work, 'forks');
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'started');
  for (const tool of ['wc', 'sha256sum', 'head', 'base64']) {
    const real = spawnSync('sh', ['-c', `command -v ${tool}`]).stdout.toString().trim();
    writeFileSync(join(bin, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  const paths = Array.from({ length: 10 }, (_, i) => join(dir, `f${i}.conf`));
  paths.forEach((p, i) => writeFileSync(p, `setting${i} = ${i}\n`.repeat(i + 1)));
  const big = join(dir, 'big');
  writeFileSync(big, randomBytes(BOX_FILE_MAX_BYTES + 10));
  const shell: BoxShell = { ...localShell(), run: async (command) => localShell().run(`PATH=${bin}:$PATH\n${command}`) };
  const got = await readBoxFiles(shell, [...paths, big], 'box1');
  paths.forEach((p, i) => assert.equal(got.get(p)?.sha256, sha(`setting${i} = ${i}\n`.repeat(i + 1))));
  assert.equal(got.get(big)?.truncated, true);
  const started = readFileSync(log, 'utf8').trim().split('\n');
  const count = (t: string) => started.filter((s) => s === t).length;
  assert.deepEqual([count('wc'), count('base64'), count('sha256sum'), count('head')], [11, 11, 1, 1], started.join(' '));
});

test('parsing a large answer stays linear', () => {
  const paths = Array.from({ length: 8 }, (_, i) => `/f${i}`);
  const b64 = randomBytes(BOX_FILE_MAX_BYTES).toString('base64').replace(/.{76}/g, '$&\n');
  const h = sha(Buffer.from(b64.replace(/\n/g, ''), 'base64'));
  const body = paths.map((_, i) => `@@obsbuild-file ${i} F ${BOX_FILE_MAX_BYTES} ${h} ${BOX_FILE_MAX_BYTES}\n${b64}${b64.endsWith('\n') ? '' : '\n'}`).join('');
  const t = Date.now();
  const got = parseBoxFiles(`@@obsbuild-files-begin\n${body}@@obsbuild-files-end\n`, paths);
  assert.equal(got.length, 8);
  assert.ok(Date.now() - t < 2000, `${Date.now() - t} ms for 2 MiB`);
});

test('the script is POSIX sh without bash-isms (dash -n accepts it)', () => {
  const r = spawnSync('/bin/sh', ['-n', '-c', readFilesScript(['/a', "/b'c"])]);
  assert.equal(r.status, 0, r.stderr.toString());
});

const skip = sshdUnavailable();
test('over SSH (lenny algorithms): ten files in one session on one connection, timed', { skip: skip ?? false }, async () => {
  const sshd = await LennySshd.start({ quietShell: true });
  const dir = join(work, 'ssh');
  mkdirSync(dir);
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
  const paths: string[] = [];
  for (let i = 0; i < 10; i++) {
    paths.push(join(dir, `conf ${i}`));
    writeFileSync(paths[i], `line ${i}\n`.repeat(50 + i * 20));
  }
  const shell = await SshShell.open({ target: { user: 'root', host: '127.0.0.1', port: sshd.port }, knownHostsFile: kh, identityFile: sshd.userKey, configFile: 'none' });
  try {
    const t = process.hrtime.bigint();
    const got = await readBoxFiles(shell, [...paths, join(dir, 'missing')], 'ssh box');
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`# readBoxFiles over SSH, 11 paths (10 files, ${[...got.values()].reduce((n, f) => n + (f?.size ?? 0), 0)} bytes): ${ms.toFixed(0)} ms`);
    paths.forEach((p, i) => assert.equal(got.get(p)!.bytes.toString(), `line ${i}\n`.repeat(50 + i * 20)));
    assert.equal(got.get(join(dir, 'missing')), null);
    assert.equal(sshd.acceptedLogins(), 1);
  } finally {
    await shell.close();
    await sshd.stop();
  }
});

test("in a batch with other commands (as verify runs it), the read is parsed from its own part only: another command's forged headers do not count", async () => {
  const dir = join(work, 'batched');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.conf'), 'real = 1\n');
  const req = boxFilesRequest([join(dir, 'a.conf'), join(dir, 'a.conf'), join(dir, 'none')], 'box1');
  assert.deepEqual(req.paths, [join(dir, 'a.conf'), join(dir, 'none')], 'each path once');
  const forge = "printf '@@obsbuild-files-begin\\n@@obsbuild-file 0 M\\n@@obsbuild-file 1 M\\n@@obsbuild-files-end\\n'";
  const shell = localShell();
  const out = await runBatch(shell, [forge, req.script, 'hostname'], 'box1', { outputCap: BATCH_OUTPUT_CAP + req.maxChars });
  assert.equal(shell.runs, 1);
  const r = out.get(req.script)!;
  assert.equal(r.exitCode, 0);
  const got = req.parse(r.output, r.exitCode!);
  assert.deepEqual(got.get(join(dir, 'a.conf'))?.bytes, Buffer.from('real = 1\n'));
  assert.equal(got.get(join(dir, 'none')), null);
  assert.throws(() => req.parse(r.output, 1), /^UserError: box1: reading 2 file\(s\) failed with exit status 1$/);
});

test("each file's mode and numeric owner come with it, from one stat for all paths; a stat line for a path not asked for is refused", async () => {
  const dir = join(work, 'meta');
  mkdirSync(dir);
  const secret = join(dir, 'shadow');
  writeFileSync(secret, 'root:x:1::::::\n');
  chmodSync(secret, 0o640);
  chownSync(secret, 0, 42);
  const open = join(dir, "it's open");
  writeFileSync(open, 'x\n');
  chmodSync(open, 0o2755);
  const got = await readBoxFiles(localShell(), [secret, open, join(dir, 'missing')], 'box1');
  assert.deepEqual(got.get(secret)!.meta, { mode: 0o640, uid: 0, gid: 42 });
  assert.deepEqual(got.get(open)!.meta, { mode: 0o2755, uid: 0, gid: 0 });
  assert.equal(got.get(join(dir, 'missing')), null);

  const paths = ['/etc/a'];
  const good = `@@obsbuild-files-begin\n@@obsbuild-file 0 F 3 ${sha('hi\n')} 3\naGkK\n@@obsbuild-stat 640 0 42 /etc/a\n@@obsbuild-files-end\n`;
  assert.deepEqual(parseBoxFiles(good, paths, 'box1')[0]!.meta, { mode: 0o640, uid: 0, gid: 42 });
  for (const forged of [good.replace(' /etc/a\n', ' /etc/b\n'), good.replace('640 0 42', '640 0 x'), good.replace('@@obsbuild-files-end', '@@obsbuild-stat 600 0 0 /etc/a\n@@obsbuild-files-end')]) {
    assert.throws(() => parseBoxFiles(forged, paths, 'box1'), (e: unknown) => e instanceof UserError && /^box1: unexpected output/.test(e.message));
  }
});

test("the file read's time allowance is a minute where the link does not limit (SSH), plus what a slow line needs for the most it may send", async () => {
  assert.equal(boxFilesRequest(['/etc/hostname']).timeoutMs, 60_000);
  const serial = boxFilesRequest(['/etc/hostname'], 'serial box', 11_520);
  // 2 MiB as base64 is 2.8 MB: about 243 s at 115200 baud
  assert.equal(serial.timeoutMs, 60_000 + Math.ceil((BOX_FILES_TOTAL_MAX_BYTES * 4) / 3 / 11_520) * 1000);
  assert.ok(serial.timeoutMs > 300_000);
  // readBoxFiles takes the speed from the shell it is given
  let asked: number | undefined;
  const slow: BoxShell = {
    lineBytesPerSecond: 11_520,
    run: async (_c, o) => ((asked = o?.timeoutMs), { exitCode: 0, stdout: '' }),
    putFile: async () => {},
    close: async () => {},
  };
  await readBoxFiles(slow, ['/etc/hostname']).catch(() => undefined);
  assert.equal(asked, serial.timeoutMs);
});
