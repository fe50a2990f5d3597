/**
 * One fuzz target per parser: which fixtures it corrupts, how (generic bytes, header fields with
 * repaired checksums, text lines), and the real entry point the product calls on such a file.
 */
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { forEachDataEntry, readDebControl } from '../../src/debian/deb.js';
import { fetchMirrorIndex } from '../../src/debian/mirror.js';
import { readPackagesIndex } from '../../src/debian/packages-index.js';
import { inspectKernTgz } from '../../src/inputs/kerntgz.js';
import { inspectRootfs } from '../../src/inputs/rootfs.js';
import { inspectUImage } from '../../src/inputs/uimage.js';
import { loadSite } from '../../src/site/load.js';
import {
  arArchive, arFieldEdit, arHeaderOffsets, debWithControl, fixTarChecksums, fixUImageCrcs, tarFieldEdit, tarHeaderOffsets,
  uimageFieldEdit,
} from './formats.js';
import { GENERIC_BYTE_OPS, mutateWith, TEXT_OPS, type Mutated } from './mutate.js';
import { Prng } from './prng.js';

export interface Fixture {
  name: string;
  bytes: Buffer;
}

/** A mutated case: the file name to write it under (parsers name it in messages), its bytes, what was done. */
export interface Case extends Mutated {
  fixture: string;
  fileName: string;
}

export interface Target {
  name: string;
  describe: string;
  /** Load the fixtures (once per worker). */
  load(fixturesDir: string): Fixture[];
  mutate(rng: Prng, fixtures: Fixture[]): Case;
  /** Prepare the per-worker scratch folder (e.g. a mirror layout). */
  setup?(fixturesDir: string, work: string): void;
  /** Where to write the case's bytes inside the worker's scratch folder. */
  pathFor?(work: string, c: Case): string;
  /** Feed the file to the product's entry point; resolve = accepted. */
  run(file: string, work: string): Promise<void>;
}

function loadDir(dir: string, filter: (name: string) => boolean = () => true): Fixture[] {
  return readdirSync(dir)
    .filter(filter)
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

function donorsOf(fixtures: Fixture[]): Buffer[] {
  return fixtures.map((f) => f.bytes);
}

const uimage: Target = {
  name: 'uimage',
  describe: 'inspectUImage (obsbuild inspect / build input check) on mkimage-made images',
  load: (dir) => loadDir(join(dir, 'uimage')),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    const ops: [string, (r: Prng, b: Buffer, d: Buffer[]) => [Buffer, string]][] = [
      ...GENERIC_BYTE_OPS,
      ['field', uimageFieldEdit],
      ['field', uimageFieldEdit],
      ['field', uimageFieldEdit],
      ['field', uimageFieldEdit],
    ];
    const m = mutateWith(rng, f.bytes, donorsOf(fixtures), ops, 3);
    // Repair the CRCs most of the time: otherwise nearly every case stops at the CRC check.
    const fixData = rng.chance(0.8);
    const fixHeader = rng.chance(0.8);
    const bytes = fixUImageCrcs(m.bytes, fixData, fixHeader);
    const ops2 = [...m.ops, ...(fixData ? ['fix-data-crc'] : []), ...(fixHeader ? ['fix-header-crc'] : [])];
    return { fixture: f.name, fileName: 'uImage.initrd-cfboot', bytes, ops: ops2 };
  },
  run: async (file) => {
    await inspectUImage(file);
  },
};

/** Mutate the tar inside a gzip stream (fields, bytes), repair checksums, compress again. */
function mutateTarInside(rng: Prng, tarBytes: Buffer, donors: Buffer[]): Mutated {
  const offsets = tarHeaderOffsets(tarBytes);
  const m = mutateWith(rng, tarBytes, donors, [
    ...GENERIC_BYTE_OPS,
    ['field', (r, b) => tarFieldEdit(r, b, offsets)],
    ['field', (r, b) => tarFieldEdit(r, b, offsets)],
    ['field', (r, b) => tarFieldEdit(r, b, offsets)],
    ['field', (r, b) => tarFieldEdit(r, b, offsets)],
  ], 3);
  if (rng.chance(0.7)) return { bytes: fixTarChecksums(m.bytes, offsets), ops: [...m.ops, 'fix-tar-checksums'] };
  return m;
}

const tar: Target = {
  name: 'tar',
  describe: 'walkTarGz through inspectKernTgz / inspectRootfs on the stand-in kern.tgz and rootfs',
  load: (dir) => loadDir(join(dir, 'tar')),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    const fileName = f.name;
    if (rng.chance(0.25)) {
      const m = mutateWith(rng, f.bytes, donorsOf(fixtures), GENERIC_BYTE_OPS, 3);
      return { fixture: f.name, fileName, bytes: m.bytes, ops: ['gz:', ...m.ops] };
    }
    const inner = gunzipSync(f.bytes);
    const m = mutateTarInside(rng, inner, fixtures.map((x) => gunzipSync(x.bytes)));
    return { fixture: f.name, fileName, bytes: gzipSync(m.bytes, { level: 1 }), ops: ['tar:', ...m.ops] };
  },
  run: async (file) => {
    if (file.endsWith('kern.tgz')) await inspectKernTgz(file);
    else await inspectRootfs(file);
  },
};

const deb: Target = {
  name: 'deb',
  describe: 'readDebControl + forEachDataEntry (ar container, control.tar, data.tar) on dpkg-deb-built packages',
  load: (dir) => loadDir(join(dir, 'debs')),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    const members = arHeaderOffsets(f.bytes);
    const fileName = f.name;
    const roll = rng.below(10);
    if (roll < 4) {
      const m = mutateWith(rng, f.bytes, donorsOf(fixtures), GENERIC_BYTE_OPS, 3);
      return { fixture: f.name, fileName, ...m };
    }
    if (roll < 7) {
      const m = mutateWith(rng, f.bytes, [], [['ar', (r, b) => arFieldEdit(r, b, members)]], 2);
      return { fixture: f.name, fileName, ...m };
    }
    // Inside a member: unpack the tar (gzip or plain), mutate it, pack it, rebuild the ar with new sizes.
    const list = members.map((mem) => [f.bytes.toString('latin1', mem.header, mem.header + 16).trim().replace(/\/$/, ''), f.bytes.subarray(mem.data, mem.data + mem.size)] as [string, Buffer]);
    const tars = list.map((x, i) => [i, x] as const).filter(([, [n]]) => /\.tar(\.gz)?$/.test(n));
    if (tars.length === 0) return { fixture: f.name, fileName, bytes: f.bytes, ops: ['no-tar-member'] };
    const [i, [name, data]] = rng.pick(tars);
    const gz = name.endsWith('.gz');
    const m = mutateTarInside(rng, gz ? gunzipSync(data) : data, []);
    list[i] = [name, gz ? gzipSync(m.bytes, { level: 1 }) : m.bytes];
    return { fixture: f.name, fileName, bytes: arArchive(list), ops: [`${name}:`, ...m.ops] };
  },
  run: async (file) => {
    await readDebControl(file);
    await forEachDataEntry(file, async (_entry, content) => {
      for await (const _chunk of content) {
        // drain: the build reads every byte of data.tar
      }
    });
  },
};

const packages: Target = {
  name: 'packages',
  describe: 'readPackagesIndex on a dpkg-scanpackages index (plain and .gz)',
  load: (dir) => loadDir(join(dir, 'packages'), (n) => n === 'Packages'),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    const m = mutateWith(rng, f.bytes, donorsOf(fixtures), TEXT_OPS);
    if (rng.chance(0.25)) {
      // The .gz form: compressed after the text edits, sometimes damaged after compression too.
      let bytes: Buffer = gzipSync(m.bytes, { level: 1 });
      const ops = [...m.ops, 'gzip'];
      if (rng.chance(0.4)) {
        const g = mutateWith(rng, bytes, [], GENERIC_BYTE_OPS, 2);
        bytes = g.bytes;
        ops.push(...g.ops);
      }
      return { fixture: f.name, fileName: 'Packages.gz', bytes, ops };
    }
    return { fixture: f.name, fileName: 'Packages', ...m };
  },
  run: async (file) => {
    await readPackagesIndex(file);
  },
};

const release: Target = {
  name: 'release',
  describe: 'fetchMirrorIndex on a file:// mirror (Release parsed, index checked against it; unsigned allowed)',
  load: (dir) => loadDir(join(dir, 'release')),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    return { fixture: f.name, fileName: 'Release', ...mutateWith(rng, f.bytes, donorsOf(fixtures), TEXT_OPS) };
  },
  setup(fixturesDir, work) {
    cpSync(join(fixturesDir, 'mirror'), join(work, 'mirror'), { recursive: true });
  },
  pathFor: (work) => join(work, 'mirror/dists/lenny/Release'),
  run: async (_file, work) => {
    await fetchMirrorIndex({
      url: `file://${join(work, 'mirror')}`,
      suite: 'lenny',
      arch: 'powerpc',
      cacheDir: join(work, 'cache'),
      allowUnsigned: true,
    });
  },
};

const control: Target = {
  name: 'control',
  describe: 'readDebControl on a .deb whose DEBIAN/control is corrupted (the control stanza parser)',
  load: (dir) => loadDir(join(dir, 'control')),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    const m = mutateWith(rng, f.bytes, donorsOf(fixtures), TEXT_OPS);
    return { fixture: f.name, fileName: 'fuzz_1.0_powerpc.deb', bytes: debWithControl(m.bytes), ops: m.ops };
  },
  run: async (file) => {
    await readDebControl(file);
  },
};

const site: Target = {
  name: 'site',
  describe: 'loadSite on the site files of test/fixtures/sites',
  load: (dir) => loadDir(join(dir, 'sites')),
  mutate(rng, fixtures) {
    const f = rng.pick(fixtures);
    return { fixture: f.name, fileName: 'obsbuild.yaml', ...mutateWith(rng, f.bytes, donorsOf(fixtures), TEXT_OPS) };
  },
  run: async (file) => {
    await loadSite(file);
  },
};

export const TARGETS: Record<string, Target> = { uimage, deb, tar, packages, release, control, site };

/** The harness's own checks (test/fuzz/harness.test.ts), kept out of TARGETS so `--parser all` never runs them. */
export async function registerSelftestTargets(): Promise<void> {
  const { SELFTEST_TARGETS } = await import('./selftest-targets.js');
  Object.assign(TARGETS, SELFTEST_TARGETS);
}

/** Write a case where its target reads it; returns the path. */
export function writeCase(target: Target, work: string, c: Case): string {
  const path = target.pathFor ? target.pathFor(work, c) : join(work, c.fileName);
  writeFileSync(path, c.bytes);
  return path;
}

/** Build a case's bytes: the same (target, seed) and fixtures always give the same file. */
export function buildCase(target: string, seed: number, fixtures: Fixture[]): Case {
  return TARGETS[target].mutate(Prng.fromLabel(`${target}:${seed}`), fixtures);
}
