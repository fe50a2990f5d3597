import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';
import { assertOneLineError, copyOf, standinDir } from '../fixtures/inputs/standin.js';
import { inspectInputs } from '../../src/inputs/inspect.js';
import { DOWNLOAD_PAGE, findInputs } from '../../src/inputs/names.js';

let good: Awaited<ReturnType<typeof standinDir>>;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  good = await standinDir();
  cleanups.push(good.cleanup);
});
after(async () => {
  for (const c of cleanups) await c();
});

test('obsbuild inspect on good inputs: readable summary, exit 0', async () => {
  const r = await runCli(['inspect', '--inputs', good.dir]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  const out = String(r.stdout);
  assert.match(out, /Debian 5\.0\.3 \(lenny\), powerpc: \d+ packages installed/);
  assert.match(out, /\/bin\/sh -> \/bin\/dash: ELF 32-bit MSB PowerPC/);
  assert.match(out, /"OBS600 2\.6\.29-obs600": PowerPC Linux Multi-File Image \(gzip compressed\)/);
  assert.match(out, /parts: kernel [\d,]+ bytes \(gzip\), ramdisk [\d,]+ bytes \(gzip\), device tree [\d,]+ bytes \(fdt\)/);
  assert.match(out, /lib\/modules\/2\.6\.29-obs600\/: \d+ modules, modules\.dep, ip_vs\.ko at/);
  assert.match(out, /^ok: Debian 5\.0\.3 powerpc, kernel 2\.6\.29-obs600 with matching modules, ip_vs present$/m);
  assert.equal(String(r.stderr), '');
});

test('obsbuild inspect --site: the site file\'s board and packages decide what the files must be', async () => {
  // The OBS600's lenny/powerpc files are wrong for a site that builds the virtual board (amd64, bookworm).
  const vobs = join(repoRoot, 'board', 'vobs', 'site.yaml');
  assertOneLineError(await runCli(['inspect', '--inputs', good.dir, '--site', vobs]), 'lenny-powerpc-obs600', /this rootfs is for .*powerpc.*, not amd64/);
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-inspect-site-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  assert.equal((await runCli(['init'], { cwd: work })).exitCode, 0);
  const r = await runCli(['inspect', '--inputs', good.dir, '--site', join(work, 'obsbuild.yaml')]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /^ok: Debian 5\.0\.3 powerpc/m);
});

test('obsbuild inspect --json: machine-readable, with sha256s and without file contents', async () => {
  const r = await runCli(['inspect', '--inputs', good.dir, '--json']);
  assert.equal(r.exitCode, 0, String(r.stderr));
  const j = JSON.parse(String(r.stdout));
  const lib = await inspectInputs(good.dir);
  assert.equal(j.files.rootfs.sha256, lib.files.rootfs.sha256);
  assert.match(j.files.uimage.sha256, /^[0-9a-f]{64}$/);
  assert.equal(j.kernelVersion, '2.6.29-obs600');
  assert.equal(j.modulesVersion, '2.6.29-obs600');
  assert.equal(j.arch, 'powerpc');
  assert.equal(j.debianVersion, '5.0.3');
  assert.equal(j.ipVs, true);
  assert.deepEqual(j.rootfs.capturedFiles, ['debianVersion', 'dpkgStatus', 'group', 'hostname', 'passwd', 'shadow']);
  assert.doesNotMatch(String(r.stdout), /\$1\$afC9J/);
  // The library report carries the captured files for the image pipeline.
  assert.match(lib.rootfs.files.shadow ?? '', /^root:\$1\$/);
});

test('a missing input file: exit 1, one line naming it, the download page and where to put it', async () => {
  const bad = await copyOf(good);
  cleanups.push(bad.cleanup);
  await rm(bad.kernTgz);
  assertOneLineError(await runCli(['inspect', '--inputs', bad.dir]), 'kern.tgz', new RegExp(`missing kern\\.tgz \\(the kernel modules\\).*${DOWNLOAD_PAGE.replace(/\./g, '\\.')}.*put it in ${bad.dir}/`));
});

test('a missing rootfs tarball is named by the guide\'s file name; the default folder is ./inputs', async () => {
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-inputs-cwd-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  await cp(good.dir, join(work, 'inputs'), { recursive: true });
  await rm(join(work, 'inputs', 'lenny-powerpc-obs600-20100119-00.tar.gz'));
  const r = await runCli(['inspect'], { cwd: work });
  assertOneLineError(r, 'lenny-powerpc-obs600-20100119-00.tar.gz', new RegExp(`missing lenny-\\S+ \\(the OS image \\(Debian lenny\\)\\): .*put it in ${join(work, 'inputs')}/`));
});

test('another release of the lenny tarball is accepted and the choice is said', async () => {
  const bad = await copyOf(good);
  cleanups.push(bad.cleanup);
  await rename(bad.rootfs, join(bad.dir, 'lenny-powerpc-obs600-20100301-01.tar.gz'));
  const found = await findInputs(bad.dir);
  assert.equal(found.rootfs, join(bad.dir, 'lenny-powerpc-obs600-20100301-01.tar.gz'));
  const r = await runCli(['inspect', '--inputs', bad.dir]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /using lenny-powerpc-obs600-20100301-01\.tar\.gz; the guide names lenny-powerpc-obs600-20100119-00\.tar\.gz/);
});

test('make-standin-inputs CLI: flags make bad inputs, --size-mb pads the rootfs, output matches the function', async () => {
  const { execa } = await import('execa');
  const { readFile, stat } = await import('node:fs/promises');
  const { repoRoot } = await import('../helpers/cli.js');
  const { makeStandinInputs } = await import('../fixtures/inputs/make-standin-inputs.js');
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-standin-cli-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const script = join(repoRoot, 'dist/test/fixtures/inputs/make-standin-inputs.js');

  const padded = join(work, 'padded');
  await execa(process.execPath, [script, padded, '--size-mb', '2']);
  const size = (await stat(join(padded, 'lenny-powerpc-obs600-20100119-00.tar.gz'))).size;
  assert.ok(size > 1.6e6 && size < 3e6, `about 2 MB compressed, got ${size}`);
  const report = await inspectInputs(padded);
  assert.ok(report.rootfs.tarBytes > 2.5 * size, `compresses about 3:1 like a real rootfs (${report.rootfs.tarBytes} / ${size})`);

  const bad = join(work, 'bad');
  await execa(process.execPath, [script, bad, '--modules-version', '2.6.31-obs600', '--debian-version', '5.0.4']);
  assertOneLineError(await runCli(['inspect', '--inputs', bad]), 'kern.tgz', /2\.6\.31-obs600/);
  const same = await makeStandinInputs(join(work, 'same'), { modulesVersion: '2.6.31-obs600', debianVersion: '5.0.4' });
  for (const f of ['lenny-powerpc-obs600-20100119-00.tar.gz', 'uImage.initrd-cfboot', 'kern.tgz']) {
    assert.deepEqual(await readFile(join(bad, f)), await readFile(join(same.dir, f)), f);
  }
});
