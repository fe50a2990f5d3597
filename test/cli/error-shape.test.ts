import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { assertOneLine, siteDir } from './cli-fixture.js';

/** Long enough for a slow shared machine, short of the old behaviour (spinning until killed). */
const LIMIT = { timeout: 30_000 };

function siteWithRealServers(items: string): string {
  return `lvs:\n  virtual_servers:\n    - address: 192.168.253.120\n      port: 80\n      real_servers: [${items}]\n`;
}

test('a YAML alias bomb is one line naming the file, exit 1', async () => {
  const { dir } = await siteDir('shape-bomb');
  try {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    await writeFile(join(dir, 'bomb.yaml'), levels.join('\n') + '\n');
    assertOneLine(await runCli(['lint', '--site', 'bomb.yaml'], { cwd: dir, ...LIMIT }), 1, 'obsbuild: bomb.yaml: its YAML aliases');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('200,000 real servers: one line naming the list (no stack overflow in the schema), exit 1', async () => {
  const { dir } = await siteDir('shape-many');
  try {
    await writeFile(join(dir, 'ones.yaml'), siteWithRealServers(Array(200_000).fill('1').join(',')));
    assertOneLine(
      await runCli(['lint', '--site', 'ones.yaml'], { cwd: dir, ...LIMIT }),
      1,
      'obsbuild: ones.yaml:5: lvs.virtual_servers[0].real_servers: lists 200000 real servers; at most 1024 make sense',
    );
    const real = Array.from({ length: 200_000 }, (_, i) => `{address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}, port: 80}`);
    await writeFile(join(dir, 'big.yaml'), siteWithRealServers(real.join(',')));
    assertOneLine(await runCli(['render', '--site', 'big.yaml', '--out', 'r'], { cwd: dir, ...LIMIT }), 1, 'obsbuild: big.yaml: larger than 1 MiB');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad --out values are one line naming the argument: empty (exit 2), ".", "/", and a path under a regular file (exit 1)', async () => {
  const { dir, site } = await siteDir('shape-out');
  try {
    for (const cmd of ['render', 'realserver', 'image']) {
      const extra = cmd === 'image' ? ['--inputs', join(dir, 'no-inputs')] : [];
      assertOneLine(await runCli([cmd, '--site', site, ...extra, '--out', ''], { cwd: dir, ...LIMIT }), 2, "obsbuild: --out '': an empty path");
      assertOneLine(await runCli([cmd, '--site', site, ...extra, '--out', 'site.yaml/x'], { cwd: dir, ...LIMIT }), 1, /obsbuild: site\.yaml\/x: .*site\.yaml is a file, not a directory/);
    }
    assertOneLine(await runCli(['render', '--site', site, '--out', '/'], { cwd: dir, ...LIMIT }), 1, 'obsbuild: /: is the root directory');
    assertOneLine(await runCli(['init', '--site', 'site.yaml/new.yaml'], { cwd: dir, ...LIMIT }), 1, /obsbuild: site\.yaml\/new\.yaml: .*site\.yaml is a file/);
    // `--out .` inside an earlier render (its marker is there): renaming the current directory failed with EBUSY.
    await mkdir(join(dir, 'r'));
    assert.equal((await runCli(['render', '--site', site, '--out', 'r'], { cwd: dir })).exitCode, 0);
    assertOneLine(await runCli(['render', '--site', site, '--out', '.'], { cwd: join(dir, 'r'), ...LIMIT }), 1, 'obsbuild: .: is the current directory');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outputs on /proc fail at once with one line instead of spinning in mkdir', async () => {
  const { dir, site } = await siteDir('shape-proc');
  try {
    assertOneLine(await runCli(['render', '--site', site, '--out', '/proc/obsbuild-x'], LIMIT), 1, "obsbuild: /proc/obsbuild-x: /proc is on the kernel's proc filesystem");
    assertOneLine(
      await runCli(['image', '--site', site, '--inputs', join(dir, 'no-inputs'), '--out', '/proc/obsbuild-y'], LIMIT),
      1,
      "obsbuild: /proc/obsbuild-y: /proc is on the kernel's proc filesystem",
    );
    assertOneLine(await runCli(['init', '--site', '/proc/obsbuild.yaml'], LIMIT), 1, 'obsbuild: /proc/obsbuild.yaml: /proc is on');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a site file that never ends (/dev/zero) is refused after 1 MiB, exit 1', async () => {
  assertOneLine(await runCli(['lint', '--site', '/dev/zero'], LIMIT), 1, 'obsbuild: /dev/zero: larger than 1 MiB');
});
