/**
 * Every failure class has a stable code: bad input from each area is refused with the code of its class
 * (what scripts and tests read instead of the prose), and the CLI exits with the status that code stands for,
 * still as one line on stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cliPath, runCli } from '../helpers/cli.js';
import { assertOneLine, siteDir } from './cli-fixture.js';
import { makeSparseImage, MiB } from '../flash/helpers.js';
import { ERROR_CODES, type ErrorCode } from '../../src/contracts/error-codes.js';
import { UsageError, UserError } from '../../src/util/errors.js';
import { exitCodeFor } from '../../src/commands/action.js';
import { loadSite, parseSite } from '../../src/site/load.js';
import { inspectRootfs } from '../../src/inputs/rootfs.js';
import { inspectUImage } from '../../src/inputs/uimage.js';
import { findInputs } from '../../src/inputs/names.js';
import { readDebControl, verifyDebChecksum } from '../../src/debian/deb.js';
import { readPackagesIndex } from '../../src/debian/packages-index.js';
import { download } from '../../src/debian/download.js';
import { checkOutputPath } from '../../src/util/output-path.js';
import { makeDirs } from '../../src/util/dirs.js';
import { describeTarget, type BlockDeviceInfo } from '../../src/flash/device.js';
import { assertSafeTarget } from '../../src/flash/safety.js';
import { loadImage } from '../../src/flash/image.js';
import { parseMd5sums } from '../../src/stick/md5sums.js';
import { sshFailure } from '../../src/remote/ssh.js';
import { sshConfigPath } from '../../src/remote/ssh-options.js';
import { FAILURE_CODES, type FailureClass } from '../../src/console/faults.js';
import { readConsoleReport } from '../../src/console/report.js';
import { Sim, sleep, waitFor } from '../console/simulator.js';

const LIMIT = { timeout: 60_000 };

/** The UserError `work` rejects with, checked to carry `code` (and, when asked, to wrap a cause). */
async function refusedWith(code: ErrorCode, work: () => unknown, opts: { cause?: boolean } = {}): Promise<UserError> {
  let caught: unknown;
  try {
    await work();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UserError, `expected a UserError with code ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (opts.cause) assert.ok(caught.cause !== undefined, `${caught.message}: the caught error is not kept as its cause`);
  return caught;
}

async function inTmp(prefix: string, work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `obsbuild-codes-${prefix}-`));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a site file that is not valid: site-invalid, exit 1 with one line', async () => {
  const { dir } = await siteDir('codes-site');
  try {
    await writeFile(join(dir, 'bad.yaml'), 'hostname: [\n');
    await refusedWith('site-invalid', () => parseSite('hostname: [\n', 'bad.yaml'));
    await refusedWith('site-invalid', () => parseSite('board: obs600\nno_such_key: 1\n', 'typo.yaml'));
    await refusedWith('site-invalid', () => loadSite(join(dir, 'missing.yaml')), { cause: true });
    assertOneLine(await runCli(['lint', '--site', 'bad.yaml'], { cwd: dir, ...LIMIT }), exitCodeFor('site-invalid'), 'obsbuild: bad.yaml:');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("Plat'Home's files damaged or missing: input-invalid, exit 1 with one line", async () => {
  await inTmp('inputs', async (dir) => {
    const rootfs = join(dir, 'lenny-powerpc-obs600-20100119-00.tar.gz');
    await writeFile(rootfs, Buffer.from('this is not gzip data at all, it only carries the name'));
    await writeFile(join(dir, 'uImage.initrd-cfboot'), Buffer.alloc(10));
    await writeFile(join(dir, 'kern.tgz'), Buffer.alloc(10));
    await refusedWith('input-invalid', () => inspectRootfs(rootfs), { cause: true });
    await refusedWith('input-invalid', () => inspectUImage(join(dir, 'uImage.initrd-cfboot')));
    await refusedWith('input-invalid', () => findInputs(join(dir, 'empty-folder-that-is-not-there')));
    assertOneLine(await runCli(['inspect', '--inputs', dir], LIMIT), exitCodeFor('input-invalid'), 'corrupt gzip data');
  });
});

test('a .deb or Packages index that is not valid: package-invalid', async () => {
  await inTmp('packages', async (dir) => {
    const deb = join(dir, 'broken_1.0_powerpc.deb');
    await writeFile(deb, 'not an ar archive\n');
    await refusedWith('package-invalid', () => readDebControl(deb), { cause: true });
    await refusedWith('package-invalid', () => verifyDebChecksum(deb, { sha256: '0'.repeat(64) }));
    const index = join(dir, 'Packages');
    await writeFile(index, 'Package: a\nVersion: 1\nSize: many\n');
    await refusedWith('package-invalid', () => readPackagesIndex(index));
    await writeFile(index, 'no field here\n');
    await refusedWith('package-invalid', () => readPackagesIndex(index), { cause: true });
  });
});

test('a mirror that does not serve the file: mirror-failed', async () => {
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end('gone');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    await inTmp('mirror', async (dir) => {
      await refusedWith('mirror-failed', () => download(`http://127.0.0.1:${port}/dists/lenny/Release`, join(dir, 'Release'), { maxBytes: 1024, why: 'a test cap' }));
    });
  } finally {
    server.close();
  }
});

test('an output path obsbuild must not write: output-refused, exit 1; an empty one is a usage error, exit 2; one line each', async () => {
  const { dir, site } = await siteDir('codes-out');
  try {
    await refusedWith('output-refused', () => checkOutputPath('/', { argument: '--out', kind: 'dir' }));
    await refusedWith('output-refused', () => checkOutputPath(site, { argument: '--out', kind: 'dir' }));
    await refusedWith('output-refused', () => makeDirs(join(site, 'below-a-file')));
    assertOneLine(await runCli(['render', '--site', site, '--out', '/'], { cwd: dir, ...LIMIT }), exitCodeFor('output-refused'), 'obsbuild: /: is the root directory');
    assert.equal(new UsageError("--out '': an empty path").code, 'usage');
    assertOneLine(await runCli(['render', '--site', site, '--out', ''], { cwd: dir, ...LIMIT }), exitCodeFor('usage'), "obsbuild: --out '': an empty path");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a flash target that is not a safe stick: target-refused; a missing image: input-invalid; both exit 1 with one line', async () => {
  await inTmp('flash', async (dir) => {
    const notADisk = join(dir, 'not-a-disk');
    await writeFile(notADisk, Buffer.alloc(4096));
    await refusedWith('target-refused', () => describeTarget(notADisk));
    await refusedWith('target-refused', () => describeTarget(join(dir, 'no-such-device')), { cause: true });
    const fixedDisk: BlockDeviceInfo = {
      path: '/dev/sdz', name: 'sdz', major: 8, minor: 400, isPartition: false, disk: 'sdz', removable: false, usb: false,
      readOnly: false, size: 64 * MiB, logicalBlockSize: 512, mounts: [], holders: [], aliases: [],
    };
    await refusedWith('target-refused', () => assertSafeTarget(fixedDisk, { imageSize: 4 * MiB }));
    await refusedWith('input-invalid', () => loadImage(join(dir, 'no-stick.img')), { cause: true });

    const { image } = await makeSparseImage(dir, 4 * MiB, [{ start: MiB, length: 4096 }]);
    assertOneLine(await runCli(['flash', notADisk, '--image', image, '--yes'], LIMIT), exitCodeFor('target-refused'), 'not a block device');
    assertOneLine(await runCli(['flash', notADisk, '--image', join(dir, 'no-stick.img'), '--yes'], LIMIT), exitCodeFor('input-invalid'), 'no such image');
  });
});

test('a box over SSH that refuses, and a read-back that does not match: box-failed, verify-failed', async () => {
  await refusedWith('box-failed', () => {
    throw sshFailure('ssh: connect to host 127.0.0.1 port 2222: Connection refused\n', 'root@127.0.0.1:2222', '/tmp/known_hosts');
  });
  await refusedWith('box-failed', () => sshConfigPath('identity file', 'relative/id_rsa'));
  await refusedWith('verify-failed', () => parseMd5sums('not an md5sum line\n'));
});

test('console failure classes map to codes: the line misbehaving, a failed check, a stop by the user', () => {
  const expected: Partial<Record<FailureClass, ErrorCode>> = { 'no-data': 'console-failed', 'kernel-panic': 'console-failed', 'check-failed': 'verify-failed', aborted: 'interrupted' };
  for (const [cls, code] of Object.entries(expected)) assert.equal(FAILURE_CODES[cls as FailureClass], code, cls);
  for (const code of Object.values(FAILURE_CODES)) assert.ok(code in ERROR_CODES, code);
  assert.equal(exitCodeFor('interrupted'), 130);
});

test('console --json: a silent line is reported with its class and code (console-failed), exit 1', async () => {
  const sim = await Sim.start();
  const cwd = await mkdtemp(join(tmpdir(), 'obsbuild-codes-console-'));
  try {
    const r = await runCli(['console', '--port', sim.consolePath, '--check', '--json', 'report.json', '--log', 'console.log', '--budget', 'waiting=2'], { cwd, ...LIMIT });
    const report = await readConsoleReport(join(cwd, 'report.json'));
    assert.equal(report.failure?.class, 'no-data', String(r.stderr));
    assert.equal(report.failure?.code, 'console-failed');
    assert.equal(r.exitCode, exitCodeFor('console-failed'), String(r.stderr));
  } finally {
    await sim.stop();
    await rm(cwd, { recursive: true, force: true });
  }
});

test('console stopped by Ctrl-C: the report says interrupted and the exit status is 130', async () => {
  const sim = await Sim.start();
  const cwd = await mkdtemp(join(tmpdir(), 'obsbuild-codes-console-'));
  try {
    const cli = execa(process.execPath, [cliPath, 'console', '--port', sim.consolePath, '--check', '--json', 'report.json', '--log', 'console.log'], { cwd, reject: false, ...LIMIT });
    // the transcript appears just before the port is opened and the Ctrl-C handler is in place
    await waitFor(() => readdirSync(cwd).some((f) => f.endsWith('.partial')), 10_000, 'the console to start');
    await sleep(500);
    cli.kill('SIGINT');
    const r = await cli;
    const report = await readConsoleReport(join(cwd, 'report.json'));
    assert.equal(report.failure?.class, 'aborted', String(r.stderr));
    assert.equal(report.failure?.code, 'interrupted');
    assert.equal(r.exitCode, 130, String(r.stderr));
  } finally {
    await sim.stop();
    await rm(cwd, { recursive: true, force: true });
  }
});
