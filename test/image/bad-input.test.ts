/**
 * Bad input: each case exits 1 with one clear line on stderr and leaves nothing in out/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { imageArgs, LENNY_PACKAGES, makeWorkspace, writeLennyIndex, type Workspace } from './fixtures.js';
import type { StandinOptions } from '../fixtures/inputs/make-standin-inputs.js';
import type { FakePackage } from '../fixtures/debs/make-deb.js';

const ROOTFS = 'lenny-powerpc-obs600-20100119-00.tar.gz';

async function patchBytes(file: string, at: number, bytes: number[]): Promise<void> {
  const data = await readFile(file);
  const pos = at < 0 ? data.length + at : at;
  bytes.forEach((b, i) => (data[pos + i] ^= b));
  await writeFile(file, data);
}

interface Case {
  name: string;
  standin?: StandinOptions;
  packages?: FakePackage[];
  spoil?: (ws: Workspace) => Promise<void>;
  /** What the one line must say. */
  expect: RegExp;
}

const CASES: Case[] = [
  {
    name: 'truncated gzip',
    spoil: async (ws) => {
      const f = join(ws.inputs, ROOTFS);
      const size = (await readFile(f)).length;
      await truncate(f, Math.floor(size / 2));
    },
    expect: new RegExp(`${ROOTFS.replace(/\./g, '\\.')}.*(truncated|unexpected end)`, 'i'),
  },
  {
    name: 'corrupt gzip',
    spoil: (ws) => patchBytes(join(ws.inputs, ROOTFS), 4000, [0xff, 0x55, 0xaa, 0x0f]),
    expect: new RegExp(`${ROOTFS.replace(/\./g, '\\.')}.*(corrupt|invalid|crc|gzip)`, 'i'),
  },
  {
    name: 'tar path escaping the root',
    standin: { extraRootfsEntries: [{ name: '../../etc/evil', content: 'x' }] },
    expect: /escap|outside|\.\./i,
  },
  { name: 'rootfs of another architecture', standin: { arch: 'amd64' }, expect: /amd64.*powerpc|powerpc.*amd64/ },
  { name: 'rootfs of another Debian version', standin: { debianVersion: '6.0.1' }, expect: /squeeze.*lenny|6\.0\.1/ },
  {
    name: 'uImage with a wrong magic',
    spoil: (ws) => patchBytes(join(ws.inputs, 'uImage.initrd-cfboot'), 0, [0x01]),
    expect: /uImage\.initrd-cfboot.*magic/i,
  },
  {
    name: 'uImage with a wrong header CRC',
    spoil: (ws) => patchBytes(join(ws.inputs, 'uImage.initrd-cfboot'), 40, [0x01]),
    expect: /uImage\.initrd-cfboot.*header CRC/i,
  },
  {
    name: 'uImage with a wrong data CRC',
    spoil: (ws) => patchBytes(join(ws.inputs, 'uImage.initrd-cfboot'), -10, [0x01]),
    expect: /uImage\.initrd-cfboot.*data CRC/i,
  },
  { name: 'kern.tgz for another kernel version', standin: { modulesVersion: '2.6.26-1-powerpc' }, expect: /kern\.tgz.*2\.6\.26-1-powerpc.*2\.6\.29-obs600|kern\.tgz.*2\.6\.29-obs600.*2\.6\.26/ },
  {
    name: 'a .deb whose checksum does not match the index',
    spoil: async (ws) => {
      const debs = (await readdir(ws.packages)).filter((n) => n.endsWith('.deb')).map((n) => join(ws.packages, n));
      await writeLennyIndex(ws.packages, debs, (name) => (name === 'keepalived' ? { MD5sum: '0'.repeat(32) } : {}));
    },
    expect: /keepalived.*\.deb: checksum mismatch/,
  },
  {
    name: 'a dependency nobody provides',
    packages: LENNY_PACKAGES.map((p) => (p.name === 'keepalived' ? { ...p, depends: `${p.depends}, libnl1 (>= 1.1)` } : p)),
    expect: /keepalived.*libnl1/,
  },
  { name: 'a missing input file', spoil: (ws) => rm(join(ws.inputs, 'kern.tgz')), expect: /kern\.tgz/ },
];

for (const c of CASES) {
  test(`bad input: ${c.name} → exit 1, one line, nothing in out/`, async () => {
    const ws = await makeWorkspace({ standin: c.standin, packages: c.packages });
    try {
      await c.spoil?.(ws);
      const r = await runCli(imageArgs(ws));
      const stderr = String(r.stderr);
      assert.equal(r.exitCode, 1, stderr);
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], /^obsbuild: /);
      assert.match(lines[0], c.expect);
      const left = await readdir(ws.out).catch(() => []);
      assert.deepEqual(left, [], 'nothing left in out/');
    } finally {
      await ws.cleanup();
    }
  });
}
