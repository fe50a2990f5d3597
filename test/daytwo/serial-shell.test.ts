import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSerialShell, MAX_TYPED_COMMAND, base64Batches, type SerialShell } from '../../src/daytwo/serial-shell.js';
import { openBoxShell } from '../../src/daytwo/transport.js';
import { UserError } from '../../src/util/errors.js';
import type { BoxShell } from '../../src/remote/box-shell.js';
import { BATCH_OUTPUT_CAP, runBatch } from '../../src/daytwo/batch.js';
import { boxFilesRequest } from '../../src/daytwo/box-files.js';
import { PtyBox, type PtyBoxOptions } from './pty-box.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function withBox(opts: PtyBoxOptions, body: (box: PtyBox, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-serial-'));
  const box = new PtyBox(dir, opts);
  try {
    await box.start();
    await body(box, dir);
  } finally {
    await box.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function open(box: PtyBox, notes: string[] = [], password = 'secret'): Promise<SerialShell> {
  return openSerialShell({ port: box.tty, baud: 115200, user: 'root', password, log: (l) => notes.push(l), loginTimeoutMs: 20_000 });
}

test('serial run(): exit codes and output (stderr folded in), each command in its own sh -c, output longer than the console window kept whole', async () => {
  await withBox({}, async (box) => {
    const shell = await open(box);
    assert.equal(shell.lineBytesPerSecond, 11_520, '115200 baud, 8N1');
    try {
      assert.deepEqual(await shell.run('echo hello; echo oops >&2; exit 3'), { exitCode: 3, stdout: 'hello\noops\n' });
      // `exit` and `set -e` above stayed in their own sh -c: the login shell still answers
      assert.deepEqual(await shell.run(`set -e; printf '%s\\n' "it's" "a \\"quoted\\" \\$HOME"`), { exitCode: 0, stdout: `it's\na "quoted" $HOME\n` });
      assert.equal((await shell.run('false')).exitCode, 1);
      // 3000 lines, about 34 KB: twice the 16 KB window the console matches in
      const big = await shell.run('i=0; while [ $i -lt 3000 ]; do echo "line $i of the output"; i=$((i+1)); done');
      const want = Array.from({ length: 3000 }, (_, i) => `line ${i} of the output\n`).join('');
      assert.equal(big.exitCode, 0);
      assert.equal(big.stdout.length, want.length);
      assert.equal(big.stdout, want);
      // several callers at once are typed one after the other
      const all = await Promise.all([1, 2, 3].map((n) => shell.run(`echo ${n}`)));
      assert.deepEqual(all.map((r) => r.stdout), ['1\n', '2\n', '3\n']);
      // refused before anything is typed: a control character the tty would act on, a line over its limit
      await assert.rejects(shell.run('echo a\x03b'), (e: Error) => e instanceof UserError && /control character/.test(e.message) && e.message.includes(box.tty));
      await assert.rejects(shell.run(`echo ${'x'.repeat(5000)}`), (e: Error) => e instanceof UserError && /line of \d+ bytes/.test(e.message));
      assert.equal((await shell.run('echo still here')).stdout, 'still here\n');
      // a command that does not finish in time: one-line error; Ctrl-C and a new prompt, and the session goes on
      await assert.rejects(shell.run('sleep 30; echo late', { timeoutMs: 500 }), (e: Error) => e instanceof UserError && /did not finish within 1 s/.test(e.message) && !e.message.includes('\n'));
      assert.deepEqual(await shell.run('echo after'), { exitCode: 0, stdout: 'after\n' });
    } finally {
      await shell.close();
    }
  });
});

test('serial putFile: all 256 byte values and random bytes over several batches land with their sha256 and mode; the staging file is gone', async () => {
  await withBox({}, async (box, dir) => {
    const target = join(dir, 'etc');
    await mkdir(target);
    const shell = await open(box);
    try {
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      await shell.putFile(join(target, 'all-bytes'), every, 0o640);
      assert.equal(sha(readFileSync(join(target, 'all-bytes'))), sha(every));
      assert.equal(statSync(join(target, 'all-bytes')).mode & 0o7777, 0o640);

      const rnd = new Uint8Array(randomBytes(40_000));
      assert.ok(base64Batches(Buffer.from(rnd).toString('base64'), '"$TMPDIR"/x').length > 10, 'more than one batch');
      await shell.putFile(join(target, 'random.bin'), rnd, 0o600);
      assert.equal(sha(readFileSync(join(target, 'random.bin'))), sha(rnd));
      assert.equal(statSync(join(target, 'random.bin')).mode & 0o7777, 0o600);

      // replacing a file, and an empty one
      await shell.putFile(join(target, 'all-bytes'), new Uint8Array(0), 0o644);
      assert.equal(readFileSync(join(target, 'all-bytes')).length, 0);
      assert.deepEqual(readdirSync(target).sort(), ['all-bytes', 'random.bin']);
      assert.deepEqual(readdirSync(box.tmp), [], 'no staging file left in $TMPDIR');
    } finally {
      await shell.close();
    }
  });
});

test('serial putFile into a read-only directory: a one-line error naming the port, the old file untouched, nothing left behind', async () => {
  const dirs: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-serial-ro-'));
  const ro = join(dir, 'ro');
  await mkdir(ro);
  await writeFile(join(ro, 'keepalived.conf'), 'old\n');
  dirs.push(dir);
  const box = new PtyBox(dir, { readOnly: [ro] });
  try {
    await box.start();
    const shell = await open(box);
    try {
      await assert.rejects(shell.putFile(join(ro, 'keepalived.conf'), Buffer.from('new\n'), 0o644), (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, new RegExp(`^serial ${box.tty}: putFile ${ro}/keepalived.conf: failed on the box \\(exit \\d+\\): .*Read-only file system`));
        assert.ok(!e.message.includes('\n'));
        return true;
      });
      assert.equal(readFileSync(join(ro, 'keepalived.conf'), 'utf8'), 'old\n');
      assert.deepEqual(readdirSync(box.tmp), []);
      // the session goes on after a refused write
      assert.equal((await shell.run('echo ok')).stdout, 'ok\n');
    } finally {
      await shell.close();
    }
  } finally {
    await box.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
});

test('serial BoxShell through openBoxShell, bash behind a login prompt (root\'s shell on lenny): run, putFile, close twice leaves the box logged out', async () => {
  await withBox({ shell: '/bin/bash', login: { user: 'root', password: 'secret' } }, async (box, dir) => {
    const log: string[] = [];
    const transcript = join(dir, 'serial.log');
    const shell = await openBoxShell({ kind: 'serial', port: box.tty, baud: 115200, user: 'root', password: 'secret', transcriptFile: transcript }, (l) => log.push(l));
    assert.ok(log.some((l) => l.includes(`serial ${box.tty}: logged in as root`)));
    assert.deepEqual(await shell.run('echo $((6*7)); exit 2'), { exitCode: 2, stdout: '42\n' });
    const bytes = new Uint8Array(randomBytes(9000));
    await shell.putFile(join(dir, 'file.bin'), bytes, 0o600);
    assert.equal(sha(readFileSync(join(dir, 'file.bin'))), sha(bytes));
    await shell.close();
    await shell.close();
    await box.waitExit(5000); // `exit` ended the login shell, so socat went with it
    await assert.rejects(shell.run('true'), /used after close/);
    const text = readFileSync(transcript, 'utf8');
    assert.match(text, />> \(password\)/);
    assert.doesNotMatch(text, /secret/);
    assert.match(text, />> \(putFile .*file\.bin: base64 part 1\/\d+/);
    assert.match(text, />> exit/);
  });
});

test('serial run(): a flood past the output cap is stopped with a one-line error and the session goes on; a lost port makes it unusable', async () => {
  await withBox({}, async (box) => {
    const shell = await open(box);
    const started = Date.now();
    // 9 MB without a line end, then the shell would go on forever: the cap stops it, not the timeout
    await assert.rejects(shell.run("head -c 9000000 /dev/zero | tr '\\0' y; sleep 60", { timeoutMs: 50_000 }), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.message, `serial ${box.tty}: a command printed more than 8 MiB; stopped`);
      return true;
    });
    assert.ok(Date.now() - started < 40_000, `${Date.now() - started} ms`);
    assert.deepEqual(await shell.run('echo after the flood'), { exitCode: 0, stdout: 'after the flood\n' });
    // the line goes away mid-session: that command fails, and every later one says why
    const pending = assert.rejects(shell.run('sleep 30'), (e: Error) => e instanceof UserError && e.message.startsWith(`serial ${box.tty}: the serial port went away`));
    await box.stop();
    await pending;
    await assert.rejects(shell.run('true'), /unusable: the serial port went away/);
    await shell.close();
    await shell.close();
  });
});

test('serial close() waits for the commands already queued, then refuses new ones', async () => {
  await withBox({}, async (box) => {
    const shell = await open(box);
    const queued = [shell.run('sleep 0.3; echo a'), shell.run('echo b')];
    const closed = shell.close();
    await assert.rejects(shell.run('echo c'), /used after close/);
    assert.deepEqual((await Promise.all(queued)).map((r) => r.stdout), ['a\n', 'b\n']);
    await closed;
    await box.waitExit(5000);
  });
});

test('serial login refused: one-line error naming the port, port closed', async () => {
  await withBox({ login: { user: 'root', password: 'secret' } }, async (box) => {
    await assert.rejects(open(box, [], 'wrong'), (e: Error) => e instanceof UserError && e.message.startsWith(`serial ${box.tty}: login as root refused`));
  });
});

test('putFile batches stay under the tty limit', () => {
  const b64 = Buffer.from(randomBytes(100_000)).toString('base64');
  const batches = base64Batches(b64, '"${TMPDIR:-/tmp}"/obsbuild-put.0123456789abcdef.b64');
  for (const b of batches) assert.ok(Buffer.byteLength(b) + 100 <= MAX_TYPED_COMMAND, `${b.length}`);
  const back = batches.map((b) => [...b.matchAll(/'([A-Za-z0-9+/=]+)'/g)].map((m) => m[1]).join('')).join('');
  assert.equal(back, b64);
  assert.equal(base64Batches('', 'F').length, 1);
});

test('serial putFile throughput over a pty (figures for the report)', async (t) => {
  await withBox({}, async (box, dir) => {
    const shell = await open(box);
    try {
      const n = 20;
      let start = Date.now();
      for (let i = 0; i < n; i++) await shell.run('true');
      const rtt = (Date.now() - start) / n;
      const bytes = new Uint8Array(randomBytes(256 * 1024));
      start = Date.now();
      await shell.putFile(join(dir, 'big.bin'), bytes, 0o644);
      const s = (Date.now() - start) / 1000;
      assert.equal(sha(readFileSync(join(dir, 'big.bin'))), sha(bytes));
      const typed = base64Batches(Buffer.from(bytes).toString('base64'), '"${TMPDIR:-/tmp}"/obsbuild-put.0123456789abcdef.b64');
      const wire = typed.reduce((a, b) => a + b.length + 75, 0);
      const at115200 = wire / 11520 + typed.length * (rtt / 1000);
      t.diagnostic(`round trip of \`true\`: ${rtt.toFixed(1)} ms; putFile 256 KiB over the pty: ${s.toFixed(2)} s (${(bytes.length / 1024 / s).toFixed(0)} KiB/s)`);
      t.diagnostic(`${typed.length} commands, ${wire} bytes typed (${(wire / bytes.length).toFixed(3)} per byte): at 115200 baud ${at115200.toFixed(1)} s = ${(bytes.length / 1024 / at115200).toFixed(2)} KiB/s`);
      assert.ok(existsSync(join(dir, 'big.bin')));
    } finally {
      await shell.close();
    }
  });
});

test("verify's one round trip over the serial line: the checks' batch and the file reading typed as one command, each part parsed from its own markers", async () => {
  await withBox({ shell: '/bin/bash', login: { user: 'root', password: 'secret' } }, async (box, dir) => {
    const files = join(dir, 'etc');
    await mkdir(files);
    const conf = randomBytes(5000).toString('base64'); // several base64 lines back, each echoed by nothing
    await writeFile(join(files, 'keepalived.conf'), conf);
    await writeFile(join(files, "it's empty"), '');
    const shell = await open(box);
    try {
      let runs = 0;
      const counting: BoxShell = { run: (c, o) => (runs++, shell.run(c, o)), putFile: (p, b, m) => shell.putFile(p, b, m), close: () => shell.close() };
      const req = boxFilesRequest([join(files, 'keepalived.conf'), join(files, "it's empty"), join(files, 'missing')], 'serial box');
      const commands = ['uname -r; ls /', 'printf "@@obsbuild-files-begin\\n@@obsbuild-file 0 M\\n"; exit 4', 'hostname'];
      const out = await runBatch(counting, [...commands, req.script], 'serial box', { outputCap: BATCH_OUTPUT_CAP + req.maxChars });
      assert.equal(runs, 1);
      assert.deepEqual(commands.map((c) => out.get(c)?.exitCode), [0, 4, 0]);
      const read = out.get(req.script)!;
      assert.equal(read.exitCode, 0);
      const got = req.parse(read.output, read.exitCode!);
      assert.equal(got.get(join(files, 'keepalived.conf'))?.bytes.toString(), conf);
      assert.equal(got.get(join(files, "it's empty"))?.size, 0);
      assert.equal(got.get(join(files, 'missing')), null);
    } finally {
      await shell.close();
    }
  });
});
