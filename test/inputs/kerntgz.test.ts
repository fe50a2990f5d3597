import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { runCli } from '../helpers/cli.js';
import { assertOneLineError, standinDir } from '../fixtures/inputs/standin.js';
import { inspectKernTgz, matchModulesToKernel } from '../../src/inputs/kerntgz.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});
async function variant(opts: Parameters<typeof standinDir>[0]) {
  const v = await standinDir(opts);
  cleanups.push(v.cleanup);
  return v;
}

test('kern.tgz: the modules tree, its version and ip_vs.ko', async () => {
  const v = await variant({});
  const r = await inspectKernTgz(v.kernTgz, { kernelVersion: '2.6.29-obs600' });
  assert.deepEqual(r.versions, ['2.6.29-obs600']);
  assert.equal(r.modulesVersion, '2.6.29-obs600');
  assert.equal(r.ipVsPath, 'lib/modules/2.6.29-obs600/kernel/net/netfilter/ipvs/ip_vs.ko');
  assert.equal(r.hasModulesDep, true);
  assert.ok(r.moduleCount > 10);
  assert.deepEqual(r.warnings, []);
});

test('kern.tgz for another kernel version: exit 1, one line naming kern.tgz and both versions', async () => {
  const v = await variant({ modulesVersion: '2.6.30-obs600' });
  assertOneLineError(
    await runCli(['inspect', '--inputs', v.dir]),
    'kern.tgz',
    /modules are for kernel 2\.6\.30-obs600 but uImage\.initrd-cfboot is kernel 2\.6\.29-obs600/,
  );
  await assert.rejects(inspectKernTgz(v.kernTgz, { kernelVersion: '2.6.29-obs600' }), /modules are for kernel 2\.6\.30-obs600/);
});

test('without ip_vs.ko: inspect still passes but says so', async () => {
  const v = await variant({ ipVs: false });
  const r = await runCli(['inspect', '--inputs', v.dir]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /kern\.tgz: no ip_vs\.ko for 2\.6\.29-obs600: this kernel cannot do LVS load balancing/);
  assert.match(String(r.stdout), /ip_vs MISSING/);
});

test('ip_vs.ko found anywhere in the tree; with several trees the kernel picks its own', async () => {
  const v = await variant({});
  // Rebuild kern.tgz with a second tree and ip_vs.ko at an unusual place.
  const pack = tar.pack();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: unknown) => chunks.push(c as Buffer));
      s.on('end', () => {
        if (!h.name.includes('/ipvs/')) pack.entry(h, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(gunzipSync(await readFile(v.kernTgz)));
  await done;
  pack.entry({ name: 'lib/modules/2.6.29-obs600/extra/ip_vs.ko' }, Buffer.from('\x7fELF'));
  pack.entry({ name: 'lib/modules/2.6.31-other/kernel/fs/ext3/ext3.ko' }, Buffer.from('\x7fELF'));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  await writeFile(v.kernTgz, gzipSync(Buffer.concat(chunks)));

  const r = matchModulesToKernel(await inspectKernTgz(v.kernTgz), '2.6.29-obs600');
  assert.deepEqual(r.versions, ['2.6.29-obs600', '2.6.31-other']);
  assert.equal(r.modulesVersion, '2.6.29-obs600');
  assert.equal(r.ipVsPath, 'lib/modules/2.6.29-obs600/extra/ip_vs.ko');
  assert.ok(r.warnings.some((w) => /several kernels/.test(w)));
  assert.throws(() => matchModulesToKernel(r, '3.10.25'), /modules are for kernel 2\.6\.29-obs600, 2\.6\.31-other but uImage\.initrd-cfboot is kernel 3\.10\.25/);
});

test('an archive without lib/modules is not a kernel modules archive', async () => {
  const v = await variant({});
  const pack = tar.pack();
  pack.entry({ name: 'boot/vmlinux' }, 'x');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  await writeFile(v.kernTgz, gzipSync(Buffer.concat(chunks)));
  assertOneLineError(await runCli(['inspect', '--inputs', v.dir]), 'kern.tgz', /no lib\/modules\/<version>\/ tree/);
});
