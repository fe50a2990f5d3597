/**
 * `npm run bench`: the image build figures. For a stand-in rootfs of about 70 MB compressed and one four times
 * larger, time `obsbuild image` against the by-hand recipe a user would otherwise script (extract the
 * rootfs as root, `dpkg -x` the packages, copy the configuration in, `tar czf` a new rootfs), with wall
 * time and peak memory (RSS) from GNU time. Targets: obsbuild at most 1/4 of the by-hand time, peak
 * memory under 150 MB at both sizes.
 *
 * More benchmarks plug in as sections (see `sections` below): each returns rows for its own table.
 *
 *   node dist/scripts/bench.js [--sizes 70,280] [--keep] [--only image]
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeStandinInputs } from '../test/fixtures/inputs/make-standin-inputs.js';
import { makeDeb } from '../test/fixtures/debs/make-deb.js';
import { LENNY_PACKAGES, writeLennyIndex } from '../test/image/fixtures.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(repoRoot, 'dist/src/cli.js');

export interface Measurement {
  wallSeconds: number;
  peakRssMb: number;
}

/** Run a command under GNU time -v: wall-clock seconds and the largest resident set of any process. */
export async function measure(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Measurement> {
  const started = process.hrtime.bigint();
  let stderr: string;
  try {
    ({ stderr } = await run('/usr/bin/time', ['-v', cmd, ...args], { ...opts, maxBuffer: 64 << 20 }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} failed: ${e.stderr?.split('\n').slice(-25).join('\n') ?? e.message}`);
  }
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (!kb) throw new Error('GNU time did not report the peak RSS (apt-get install time)');
  return { wallSeconds, peakRssMb: Number(kb[1]) / 1024 };
}

export interface BenchRow {
  label: string;
  cells: Record<string, string>;
}

export interface BenchSection {
  name: string;
  run(work: string, opts: BenchOptions): Promise<BenchRow[]>;
}

export interface BenchOptions {
  sizesMb: number[];
}

function printTable(title: string, rows: BenchRow[]): void {
  const columns = ['', ...new Set(rows.flatMap((r) => Object.keys(r.cells)))];
  const data = rows.map((r) => [r.label, ...columns.slice(1).map((c) => r.cells[c] ?? '')]);
  const widths = columns.map((c, i) => Math.max(c.length, ...data.map((d) => d[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`\n${title}\n${line(columns)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const d of data) process.stdout.write(`${line(d)}\n`);
}

const SITE = `board: obs600
hostname: bench
root:
  password_hash: "$1$fixture$7sa4GtBomJXmarYg/KhNO/"
network:
  interfaces:
    eth0: { address: 192.168.253.254/24 }
    eth1: { address: 172.16.14.120/24 }
lvs:
  manager: keepalived
  virtual_servers:
    - name: web
      address: 192.168.253.120
      port: 80
      forwarding: nat
      check: { type: tcp, connect_timeout: 3 }
      real_servers:
        - { address: 172.16.14.121, port: 80 }
        - { address: 172.16.14.122, port: 80 }
`;

/** The recipe a user would write by hand for the same result (a rootfs with the packages and config in it). */
const BY_HAND = `#!/bin/sh
set -e
work="$1"; rootfs="$2"; debs="$3"; config="$4"; out="$5"
rm -rf "$work/root"; mkdir -p "$work/root"
tar -xzpf "$rootfs" -C "$work/root"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$work/root"; done
cp -a "$config"/. "$work/root"/
tar -czf "$out" -C "$work/root" .
rm -rf "$work/root"
`;

/**
 * A rootfs of realistic size and shape: the stand-in lenny base (dpkg status, shadow, a PowerPC /bin/sh)
 * plus real files from this machine's /usr/share and /usr/lib (tens of thousands of files of every size,
 * text and binaries), an evenly spread sample sized for about `targetMb` compressed (compression ratio guessed
 * at 4.5:1, about what a sample of Debian 12 /usr gives; the table shows the real size).
 */
export async function growRootfs(rootfs: string, targetMb: number, work: string): Promise<void> {
  const base = join(work, 'base');
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  await run('tar', ['-xzpf', rootfs, '-C', base]);
  const budget = targetMb * 4.5 * 2 ** 20;
  const { stdout } = await run('find', ['usr/share', 'usr/lib', '(', '-type', 'f', '-o', '-type', 'l', ')', '-printf', '%s %p\\n'], {
    cwd: '/',
    maxBuffer: 1 << 30,
  });
  // Every k-th file of the sorted list, so the sample has the shape of a real /usr: many small text
  // files, fewer large binaries.
  const all = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ size: Number(line.slice(0, line.indexOf(' '))), path: line.slice(line.indexOf(' ') + 1) }))
    .filter((f) => !f.path.includes('\\') && !/[\r\t]/.test(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const everything = all.reduce((n, f) => n + f.size, 0);
  if (everything < budget) throw new Error(`this machine's /usr has only ${everything >> 20} MB of files; use smaller --sizes`);
  const step = Math.max(1, Math.floor(everything / budget));
  const picked: string[] = [];
  let taken = 0;
  for (let i = 0; i < all.length && taken < budget; i += step) {
    // A lenny appliance has no 100 MB libraries (LLVM and the like): leave those out.
    if (all[i].size > 16 * 2 ** 20) continue;
    picked.push(all[i].path);
    taken += all[i].size;
  }
  const list = join(work, 'files.list');
  await writeFile(list, picked.join('\n') + '\n');
  // The host files go under their own prefix so they never replace the base's files.
  await run('tar', ['-czf', rootfs, '-C', base, '.', '-C', '/', '--transform', 's,^usr/,usr/local/bench/,', '--verbatim-files-from', '-T', list]);
  await rm(base, { recursive: true, force: true });
  await rm(list, { force: true });
}

/** obsbuild image against the by-hand recipe. */
const imageSection: BenchSection = {
  name: 'image',
  async run(work, opts) {
    const rows: BenchRow[] = [];
    const packages = join(work, 'packages');
    await mkdir(packages, { recursive: true });
    const debs = LENNY_PACKAGES.map((p) => makeDeb(packages, p));
    await writeLennyIndex(packages, debs);
    const site = join(work, 'obsbuild.yaml');
    await writeFile(site, SITE);
    const script = join(work, 'by-hand.sh');
    await writeFile(script, BY_HAND, { mode: 0o755 });
    for (const sizeMb of opts.sizesMb) {
      const inputs = join(work, `inputs-${sizeMb}`);
      process.stdout.write(`making a rootfs of about ${sizeMb} MB compressed (stand-in base + this machine's /usr files)...\n`);
      const files = await makeStandinInputs(inputs, { sizeMb: 0 });
      await growRootfs(files.rootfs, sizeMb, work);
      const rootfsMb = (await readFile(files.rootfs)).length / 2 ** 20;

      const out = join(work, `out-${sizeMb}`);
      const env = { ...process.env, SOURCE_DATE_EPOCH: '1263859200' };
      process.stdout.write(`obsbuild image (${rootfsMb.toFixed(0)} MB)...\n`);
      const tool = await measure(process.execPath, [cli, 'image', '--site', site, '--inputs', inputs, '--packages', packages, '--out', out], { env });

      // The by-hand recipe gets the same configuration files obsbuild rendered, already on disk.
      const config = join(work, `config-${sizeMb}`);
      await mkdir(config, { recursive: true });
      await run('tar', ['-xzf', join(out, 'bench/stick/msf/obsbuild-overlay.tgz'), '-C', config, '--exclude=./var/lib/dpkg', '--exclude=var/lib/dpkg']);
      process.stdout.write(`by-hand recipe (${rootfsMb.toFixed(0)} MB)...\n`);
      const hand = await measure('sh', [script, work, files.rootfs, packages, config, join(work, `by-hand-${sizeMb}.tar.gz`)]);
      await rm(config, { recursive: true, force: true });
      await rm(inputs, { recursive: true, force: true });
      await rm(out, { recursive: true, force: true });
      await rm(join(work, `by-hand-${sizeMb}.tar.gz`), { force: true });

      const ratio = tool.wallSeconds / hand.wallSeconds;
      rows.push({
        label: `rootfs ${rootfsMb.toFixed(0)} MB`,
        cells: {
          'obsbuild s': tool.wallSeconds.toFixed(2),
          'by hand s': hand.wallSeconds.toFixed(2),
          'ratio (≤ 0.25)': `${ratio.toFixed(3)} ${ratio <= 0.25 ? 'ok' : 'MISSED'}`,
          'obsbuild peak MB (< 150)': `${tool.peakRssMb.toFixed(0)} ${tool.peakRssMb < 150 ? 'ok' : 'MISSED'}`,
          'by hand peak MB': hand.peakRssMb.toFixed(0),
        },
      });
    }
    return rows;
  },
};

/**
 * Benchmark sections, run in order. To add one (e.g. flash + verify against dd + cmp), append a
 * BenchSection here; it gets its own scratch folder and prints its own table.
 */
export const sections: BenchSection[] = [imageSection];

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizesMb = (arg('--sizes') ?? '70,280').split(',').map(Number);
  const only = arg('--only');
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-bench-'));
  try {
    for (const section of sections) {
      if (only && section.name !== only) continue;
      const dir = join(work, section.name);
      await mkdir(dir, { recursive: true });
      printTable(`== ${section.name} ==`, await section.run(dir, { sizesMb }));
    }
  } finally {
    if (argv.includes('--keep')) process.stdout.write(`kept ${work}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
