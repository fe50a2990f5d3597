/**
 * Flash benchmark: `obsbuild flash` (sparse write + read-back verify) against `dd bs=4M conv=fsync`
 * + `blockdev --flushbufs` + `cmp` of the same stick-like image to the same loop device, in the same run, warm and cold
 * (page cache dropped before each run when /proc/sys/vm/drop_caches is writable).
 *
 *   node dist/scripts/bench-flash.js [--json] [--runs N]
 *
 * Goals: obsbuild at par with dd+cmp; bytes written ≤ the image's used ranges + 1 MiB; 4 sticks at once in
 * ≤ 2 × the time of one. Measured twice: on RAM-speed loop devices, and on loop devices throttled to a USB 2.0
 * stick's speed (StickSpeedFigures). `meetsTimeTarget` keeps the old ≤ 1.2× line for the RAM-speed runs.
 * Bytes written are counted twice: by obsbuild's report and by the kernel (/sys/block/loopN/stat).
 * Needs root (losetup) and e2fsprogs, util-linux (sfdisk, losetup), coreutils (dd, cmp).
 */
import { blockMapPathFor, formatBlockMap, parseBlockMap } from '../src/contracts/block-map.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';

const MiB = 1024 * 1024;
const BLOCK = 4096;
const cliPath = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export interface FlashBenchRun {
  mode: 'warm' | 'cold';
  /** dd bs=4M conv=fsync + cmp */
  ddSeconds: number;
  /** `obsbuild flash` as a user runs it: a new node process, CLI start-up included */
  obsbuildSeconds: number;
  ratio: number;
  /** the flash itself (checks, write, sync, read-back), in this process: what src/flash costs */
  flashOnlySeconds: number;
  flashOnlyRatio: number;
  /** the CLI's own report of its phases (medians): where a run's time goes */
  cliPhases: { write: number; sync: number; verify: number };
}

export interface FlashBenchScenario {
  name: string;
  imageBytes: number;
  usedBytes: number;
  ranges: number;
  warm: FlashBenchRun;
  cold?: FlashBenchRun;
  bytesWritten: {
    /** a zeroed stick: nothing to clear */
    freshStick: { reported: number; kernel: number };
    /** a stick that held a GPT disk (primary table at the start, backup at the end) */
    usedGptStick: { reported: number; kernel: number; cleared: number };
    /** worst case: old data over both clear zones */
    junkStick: { reported: number; kernel: number; cleared: number };
    dd: { kernel: number };
    /** the target: used ranges + 1 MiB */
    limit: number;
  };
}

/**
 * The same comparison on loop devices held to a USB 2.0 stick's speed by the block layer's throttle
 * (cgroup v1 blkio, on the devices themselves, so the kernel's own write-back is held too): a RAM-backed loop
 * device makes every fixed cost (Node's start, the pre-write check) look large next to I/O that costs
 * nothing; on a stick the I/O is the time.
 */
export interface StickSpeedFigures {
  image: string;
  writeMiBps: number;
  readMiBps: number;
  ddSeconds: number;
  obsbuildSeconds: number;
  /** obsbuild / dd+cmp; the goal is at par (≤ 1) */
  ratio: number;
  /** several sticks, each throttled on its own as sticks on their own ports are */
  multiTarget: Record<'1' | '2' | '4', number>;
  fourVersusOne: number;
}

/** Several sticks at once (`obsbuild flash A B C D`), each target a loop device of its own. */
export interface MultiTargetFigures {
  image: string;
  mode: 'warm' | 'cold';
  /** median seconds of the CLI for 1, 2 and 4 targets */
  seconds: Record<'1' | '2' | '4', number>;
  /** seconds(4) / seconds(1); the goal is at most 2 */
  fourVersusOne: number;
}

export interface FlashBenchFigures {
  multiTarget?: MultiTargetFigures;
  stickSpeed?: StickSpeedFigures;
  stickSpeedSkipped?: string;
  targetBytes: number;
  runsPerMode: number;
  /** `node -e 0`: what any Node program pays before its first line runs */
  nodeStartupSeconds: number;
  /** `node dist/src/cli.js --version`: the CLI's start-up, paid by every command */
  cliStartupSeconds: number;
  /** the same after dropping the page cache (node and node_modules read from disk) */
  cliStartupColdSeconds?: number;
  coldSkipped?: string;
  scenarios: FlashBenchScenario[];
  /** the CLI as users run it, start-up included, every scenario and mode */
  meetsTimeTarget: boolean;
  /** the flash work alone */
  meetsTimeTargetFlashOnly: boolean;
  /** fresh, used-GPT and junk-filled sticks, as counted by obsbuild and by the kernel */
  meetsBytesTarget: boolean;
}

async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await execa(cmd, args, input === undefined ? {} : { input });
  return String(r.stdout);
}

async function writeRandom(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (let done = 0; done < bytes; done += 4 * MiB) await fh.write(randomBytes(Math.min(4 * MiB, bytes - done)));
  } finally {
    await fh.close();
  }
}

/**
 * A stick.img like `obsbuild image` makes: 256 MiB, MBR with one partition at 1 MiB, ext3 labelled
 * MSF holding msf/ with an incompressible ~72 MiB "rootfs tarball", a kernel and kern.tgz.
 */
export async function makeStickImage(dir: string): Promise<string> {
  const msf = path.join(dir, 'content', 'msf');
  await mkdir(msf, { recursive: true });
  await writeRandom(path.join(msf, 'rootfs-lenny-powerpc.tgz'), 72 * MiB);
  await writeRandom(path.join(msf, 'uImage.initrd-cfboot'), 3 * MiB);
  await writeRandom(path.join(msf, 'kern.tgz'), 5 * MiB);
  await writeRandom(path.join(msf, 'obsbuild-overlay.tgz'), 2 * MiB);
  await writeFile(path.join(msf, 'msf_init.sh'), '#!/bin/sh\necho obsbuild-install: done\n');
  const image = path.join(dir, 'stick.img');
  const part = path.join(dir, 'part.img');
  await sh('truncate', ['-s', String(255 * MiB), part]);
  await sh('mke2fs', ['-q', '-F', '-t', 'ext3', '-L', 'MSF', '-d', path.join(dir, 'content'), part]);
  await sh('truncate', ['-s', String(256 * MiB), image]);
  await sh('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], 'label: dos\nstart=2048, type=83\n');
  await sh('dd', [`if=${part}`, `of=${image}`, 'bs=1M', 'seek=1', 'conv=sparse,notrunc', 'status=none']);
  await rm(part);
  return image;
}

/** The block map by a zero-block scan (what src/stick/blockmap.ts does, minus forced metadata). */
export async function writeBlockMap(image: string): Promise<{ used: number; ranges: number }> {
  const data = await readFile(image);
  const zero = Buffer.alloc(BLOCK);
  const ranges: { start: number; length: number; sha256: string }[] = [];
  let start = -1;
  const close = (end: number) => {
    if (start >= 0) ranges.push({ start, length: end - start, sha256: createHash('sha256').update(data.subarray(start, end)).digest('hex') });
    start = -1;
  };
  for (let off = 0; off < data.length; off += BLOCK) {
    const used = !data.subarray(off, off + BLOCK).equals(zero);
    if (used && start < 0) start = off;
    if (!used) close(off);
  }
  close(data.length);
  await writeFile(blockMapPathFor(image), formatBlockMap({ imageSize: data.length, blockSize: BLOCK, ranges }));
  return { used: ranges.reduce((n, r) => n + r.length, 0), ranges: ranges.length };
}

/** The target as a used stick left it: a GPT, primary table at the start and backup at the end. */
async function makeUsedGptStick(dev: string): Promise<void> {
  await sh('dd', ['if=/dev/zero', `of=${dev}`, 'bs=4M', 'count=2', 'conv=fsync', 'status=none']);
  await sh('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', dev], 'label: gpt\nstart=2048, type=L\n');
  await sh('blockdev', ['--flushbufs', dev]);
}

/** Worst case for clearing: old data over the first 2 MiB and the last MiB, beyond both clear zones. */
async function makeJunkStick(dev: string, size: number): Promise<void> {
  const fh = await open(dev, 'r+');
  try {
    await fh.write(randomBytes(2 * MiB), 0, 2 * MiB, 0);
    await fh.write(randomBytes(MiB), 0, MiB, size - MiB);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await sh('blockdev', ['--flushbufs', dev]);
}

async function sectorsWritten(dev: string): Promise<number> {
  const stat = (await readFile(`/sys/block/${path.basename(dev)}/stat`, 'utf8')).trim().split(/\s+/);
  return Number(stat[6]) * 512;
}

async function dropCaches(): Promise<boolean> {
  try {
    await sh('sync', []);
    await writeFile('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/**
 * The anchor: dd, then cmp reading the medium with the device's cache dropped, as obsbuild's read-back
 * does (without the drop, cmp compares the image with the pages dd just left in memory, not with the stick).
 */
async function ddAndCmp(image: string, dev: string, imageBytes: number): Promise<void> {
  await sh('dd', [`if=${image}`, `of=${dev}`, 'bs=4M', 'conv=fsync', 'status=none']);
  await sh('blockdev', ['--flushbufs', dev]);
  await sh('cmp', ['-n', String(imageBytes), image, dev]);
}

interface CliReport {
  bytesWritten: number;
  clearedBytes: number;
  seconds: { write: number; sync: number; verify: number; total: number };
}

async function obsbuildFlash(image: string, dev: string): Promise<CliReport> {
  const out = await sh(process.execPath, [cliPath, 'flash', dev, '--image', image, '--yes', '--force-unsafe-target', '--json']);
  return JSON.parse(out) as CliReport;
}

/** The same steps as the flash command, without starting a process. */
async function flashInProcess(image: string, dev: string): Promise<void> {
  const { loadImage } = await import('../src/flash/image.js');
  const { describeTarget } = await import('../src/flash/device.js');
  const { assertSafeTarget } = await import('../src/flash/safety.js');
  const { flashImage } = await import('../src/flash/write.js');
  const { map, identity } = await loadImage(image);
  const target = await describeTarget(dev);
  assertSafeTarget(target, { imageSize: map.imageSize, forceUnsafeTarget: true });
  await flashImage({ image, map, identity, target });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const BLKIO = '/sys/fs/cgroup/blkio';
const STICK_WRITE_MIBPS = 20;
const STICK_READ_MIBPS = 30;

/** Holds a block device to the given speeds (0 lifts the limit); false when this kernel has no blkio throttle here. */
async function throttle(dev: string, readBps: number, writeBps: number): Promise<boolean> {
  const [major, minor] = (await sh('stat', ['-L', '-c', '%t %T', dev])).trim().split(' ').map((h) => parseInt(h, 16));
  try {
    await writeFile(path.join(BLKIO, 'blkio.throttle.read_bps_device'), `${major}:${minor} ${readBps}\n`);
    await writeFile(path.join(BLKIO, 'blkio.throttle.write_bps_device'), `${major}:${minor} ${writeBps}\n`);
    return true;
  } catch {
    return false;
  }
}

async function benchStickSpeed(image: string, dir: string, runs: number, log: (l: string) => void): Promise<StickSpeedFigures | string> {
  const imageBytes = (await stat(image)).size;
  const devs: string[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      devs.push(await attachTarget(dir, `slow-${i}.img`));
      if (!(await throttle(devs[i], STICK_READ_MIBPS * MiB, STICK_WRITE_MIBPS * MiB))) return `no blkio throttle at ${BLKIO} (cgroup v1) on this machine`;
    }
    const dd: number[] = [];
    const ob: number[] = [];
    for (let i = 0; i < runs; i++) {
      await sh('sync', []);
      dd.push(await timed(() => ddAndCmp(image, devs[0], imageBytes)));
      await sh('sync', []);
      ob.push(await timed(() => obsbuildFlash(image, devs[0])));
      log(`stick speed run ${i + 1}: dd+cmp ${dd[i].toFixed(2)} s, obsbuild flash ${ob[i].toFixed(2)} s`);
    }
    const multiTarget = {} as StickSpeedFigures['multiTarget'];
    for (const k of [1, 2, 4] as const) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        await sh('sync', []);
        times.push(await timed(() => sh(process.execPath, [cliPath, 'flash', ...devs.slice(0, k), '--image', image, '--yes', '--force-unsafe-target', '--json'])));
      }
      multiTarget[String(k) as '1' | '2' | '4'] = median(times);
      log(`stick speed, ${k} target(s): ${times.map((t) => t.toFixed(2)).join(' ')} s`);
    }
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      image: path.basename(image),
      writeMiBps: STICK_WRITE_MIBPS,
      readMiBps: STICK_READ_MIBPS,
      ddSeconds: median(dd),
      obsbuildSeconds: median(ob),
      ratio: r2(median(ob) / median(dd)),
      multiTarget,
      fourVersusOne: r2(multiTarget['4'] / multiTarget['1']),
    };
  } finally {
    for (const d of devs) {
      await throttle(d, 0, 0);
      await execa('losetup', ['-d', d], { reject: false });
    }
  }
}

/** A 1 GiB stick stand-in: a sparse file in `dir` on a loop device of its own. */
async function attachTarget(dir: string, name: string): Promise<string> {
  const backing = path.join(dir, name);
  await sh('truncate', ['-s', String(1024 * MiB), backing]);
  return (await sh('losetup', ['-f', '--show', backing])).trim();
}

async function benchMultiTarget(image: string, dir: string, runs: number, canDrop: boolean, log: (l: string) => void): Promise<MultiTargetFigures> {
  const devs: string[] = [];
  try {
    for (let i = 0; i < 4; i++) devs.push(await attachTarget(dir, `multi-${i}.img`));
    const mode = canDrop ? 'cold' : 'warm';
    const seconds = {} as MultiTargetFigures['seconds'];
    for (const k of [1, 2, 4] as const) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        if (canDrop) await dropCaches();
        else await sh('sync', []);
        times.push(await timed(() => sh(process.execPath, [cliPath, 'flash', ...devs.slice(0, k), '--image', image, '--yes', '--force-unsafe-target', '--json'])));
      }
      seconds[String(k) as '1' | '2' | '4'] = median(times);
      log(`${k} target(s), ${mode}: ${times.map((t) => t.toFixed(3)).join(' ')} s`);
    }
    return { image: path.basename(image), mode, seconds, fourVersusOne: Math.round((seconds['4'] / seconds['1']) * 100) / 100 };
  } finally {
    for (const d of devs) await execa('losetup', ['-d', d], { reject: false });
  }
}

async function benchScenario(name: string, image: string, dev: string, targetBytes: number, runs: number, canDrop: boolean, log: (l: string) => void): Promise<FlashBenchScenario> {
  const parsed = parseBlockMap(await readFile(blockMapPathFor(image), 'utf8'));
  if ('problem' in parsed) throw new Error(`${blockMapPathFor(image)}: ${parsed.problem}`);
  const map = parsed.map;
  const imageBytes = map.imageSize;
  const used = map.ranges.reduce((n, r) => n + r.length, 0);
  log(`${name}: image ${(imageBytes / MiB).toFixed(1)} MiB, used ${(used / MiB).toFixed(1)} MiB in ${map.ranges.length} ranges`);

  // Bytes written, counted by obsbuild and by the kernel, for three states of the stick, and for dd.
  const counted = async (prepare: () => Promise<void>) => {
    await prepare();
    const before = await sectorsWritten(dev);
    const report = await obsbuildFlash(image, dev);
    return { reported: report.bytesWritten, kernel: (await sectorsWritten(dev)) - before, cleared: report.clearedBytes };
  };
  await sh('blkdiscard', [dev]); // a loop device punches holes in its file: the stick reads as zeros
  const fresh = await counted(async () => {});
  const gpt = await counted(() => makeUsedGptStick(dev));
  const junk = await counted(() => makeJunkStick(dev, targetBytes));
  let before = await sectorsWritten(dev);
  await ddAndCmp(image, dev, imageBytes);
  const ddKernel = (await sectorsWritten(dev)) - before;

  const measure = async (mode: 'warm' | 'cold'): Promise<FlashBenchRun> => {
    const dd: number[] = [];
    const ob: number[] = [];
    const inproc: number[] = [];
    const phases: CliReport['seconds'][] = [];
    for (let i = 0; i < runs; i++) {
      // rotate the order so no method always follows the same one
      const methods = ['dd', 'cli', 'inproc'] as const;
      const order = methods.map((_, k) => methods[(k + i) % methods.length]);
      for (const which of order) {
        if (mode === 'cold') await dropCaches();
        else await sh('sync', []);
        if (which === 'dd') dd.push(await timed(() => ddAndCmp(image, dev, imageBytes)));
        else if (which === 'cli') ob.push(await timed(async () => phases.push((await obsbuildFlash(image, dev)).seconds)));
        else inproc.push(await timed(() => flashInProcess(image, dev)));
      }
      log(`${name} ${mode} run ${i + 1}: dd+cmp ${dd[i].toFixed(3)} s, obsbuild flash ${ob[i].toFixed(3)} s, flash in-process ${inproc[i].toFixed(3)} s`);
    }
    const d = median(dd);
    const o = median(ob);
    const f = median(inproc);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const cliPhases = { write: median(phases.map((p) => p.write)), sync: median(phases.map((p) => p.sync)), verify: median(phases.map((p) => p.verify)) };
    return { mode, ddSeconds: d, obsbuildSeconds: o, ratio: r2(o / d), flashOnlySeconds: f, flashOnlyRatio: r2(f / d), cliPhases };
  };
  const warm = await measure('warm');
  const cold = canDrop ? await measure('cold') : undefined;
  return {
    name,
    imageBytes,
    usedBytes: used,
    ranges: map.ranges.length,
    warm,
    cold,
    bytesWritten: {
      freshStick: { reported: fresh.reported, kernel: fresh.kernel },
      usedGptStick: gpt,
      junkStick: junk,
      dd: { kernel: ddKernel },
      limit: used + MiB,
    },
  };
}

/** The product's own stick image (src/stick) when it is built, for the same files. */
async function productImage(dir: string, log: (l: string) => void): Promise<string | undefined> {
  const modulePath = '../src/stick/diskimage.js';
  let build: ((stickDir: string, outImg: string) => Promise<unknown>) | undefined;
  try {
    build = ((await import(modulePath)) as { buildStickImage: typeof build }).buildStickImage;
  } catch {
    log('src/stick/diskimage.js not built: the product-image scenario is skipped');
    return undefined;
  }
  const image = path.join(dir, 'product', 'stick.img');
  await mkdir(path.dirname(image), { recursive: true });
  await build!(path.join(dir, 'content'), image);
  return image;
}

export async function runFlashBench(opts: { runs?: number; log?: (line: string) => void } = {}): Promise<FlashBenchFigures> {
  const runs = opts.runs ?? 3;
  const log = opts.log ?? (() => {});
  const dir = await mkdtemp(path.join(tmpdir(), 'obsbuild-bench-flash-'));
  let dev: string | undefined;
  try {
    log('building stick images (ext3 MSF, ~82 MiB of incompressible files)…');
    const synthetic = await makeStickImage(dir);
    await writeBlockMap(synthetic);
    const product = await productImage(dir, log);
    const targetBytes = 1024 * MiB;
    const backing = path.join(dir, 'stick-target.img');
    await sh('truncate', ['-s', String(targetBytes), backing]);
    dev = (await sh('losetup', ['-f', '--show', backing])).trim();

    await flashInProcess(synthetic, dev); // load the modules once, outside the timings
    const nodeStartup: number[] = [];
    for (let i = 0; i < runs; i++) nodeStartup.push(await timed(() => sh(process.execPath, ['-e', '0'])));
    const startup: number[] = [];
    for (let i = 0; i < runs; i++) startup.push(await timed(() => sh(process.execPath, [cliPath, '--version'])));
    const canDrop = await dropCaches();
    const startupCold: number[] = [];
    for (let i = 0; canDrop && i < runs; i++) {
      await dropCaches();
      startupCold.push(await timed(() => sh(process.execPath, [cliPath, '--version'])));
    }
    const scenarios = [await benchScenario('256 MiB image (mke2fs -d, zero-block map)', synthetic, dev, targetBytes, runs, canDrop, log)];
    if (product) scenarios.push(await benchScenario('stick.img from src/stick (sized to content)', product, dev, targetBytes, runs, canDrop, log));
    const all = scenarios.flatMap((sc) => [sc.warm, ...(sc.cold ? [sc.cold] : [])]);
    const multiTarget = await benchMultiTarget(product ?? synthetic, dir, runs, canDrop, log);
    const stickSpeed = await benchStickSpeed(product ?? synthetic, dir, runs, log);
    return {
      multiTarget,
      stickSpeed: typeof stickSpeed === 'string' ? undefined : stickSpeed,
      stickSpeedSkipped: typeof stickSpeed === 'string' ? stickSpeed : undefined,
      targetBytes,
      runsPerMode: runs,
      nodeStartupSeconds: median(nodeStartup),
      cliStartupSeconds: median(startup),
      cliStartupColdSeconds: canDrop ? median(startupCold) : undefined,
      coldSkipped: canDrop ? undefined : '/proc/sys/vm/drop_caches is not writable',
      scenarios,
      meetsTimeTarget: all.every((r) => r.ratio <= 1.2),
      meetsTimeTargetFlashOnly: all.every((r) => r.flashOnlyRatio <= 1.2),
      meetsBytesTarget: scenarios.every((sc) => {
        const b = sc.bytesWritten;
        return (
          Math.max(
            b.freshStick.reported,
            b.freshStick.kernel,
            b.usedGptStick.reported,
            b.usedGptStick.kernel,
            b.junkStick.reported,
            b.junkStick.kernel,
          ) <= b.limit
        );
      }),
    };
  } finally {
    if (dev) await execa('losetup', ['-d', dev], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }
}

function formatFigures(f: FlashBenchFigures): string {
  const m = (b: number) => `${(b / MiB).toFixed(2)} MiB`;
  const row = (r: FlashBenchRun) =>
    `  ${r.mode.padEnd(5)} dd+cmp ${r.ddSeconds.toFixed(3)} s   obsbuild flash (CLI) ${r.obsbuildSeconds.toFixed(3)} s = ${r.ratio.toFixed(2)}×   ` +
    `flash in-process ${r.flashOnlySeconds.toFixed(3)} s = ${r.flashOnlyRatio.toFixed(2)}×   (target ≤ 1.2×)\n` +
    `        CLI phases: write ${r.cliPhases.write.toFixed(3)} s, sync ${r.cliPhases.sync.toFixed(3)} s, read-back ${r.cliPhases.verify.toFixed(3)} s; ` +
    `floor (node start + write + sync, before any read-back) ${floor(r).toFixed(3)} s = ${(floor(r) / r.ddSeconds).toFixed(2)}× dd+cmp`;
  const floor = (r: FlashBenchRun) => f.nodeStartupSeconds + r.cliPhases.write + r.cliPhases.sync;
  const lines = [
    `target loop device ${m(f.targetBytes)}, medians of ${f.runsPerMode} runs`,
    `start-up: node -e 0 ${f.nodeStartupSeconds.toFixed(3)} s; obsbuild --version warm ${f.cliStartupSeconds.toFixed(3)} s, cold ${f.cliStartupColdSeconds?.toFixed(3) ?? '-'} s`,
  ];
  for (const sc of f.scenarios) {
    const b = sc.bytesWritten;
    lines.push(
      `${sc.name}: image ${m(sc.imageBytes)}, used ${m(sc.usedBytes)} in ${sc.ranges} ranges`,
      row(sc.warm),
      sc.cold ? row(sc.cold) : `  cold  skipped: ${f.coldSkipped}`,
      `  bytes written (obsbuild report / kernel count): fresh stick ${m(b.freshStick.reported)} / ${m(b.freshStick.kernel)}, ` +
        `used GPT stick ${m(b.usedGptStick.reported)} / ${m(b.usedGptStick.kernel)}, junk-filled stick ${m(b.junkStick.reported)} / ${m(b.junkStick.kernel)}; ` +
        `dd ${m(b.dd.kernel)}; target ≤ used + 1 MiB = ${m(b.limit)}`,
    );
  }
  if (f.multiTarget) {
    const mt = f.multiTarget;
    lines.push(
      `several sticks (${mt.image}, ${mt.mode}): 1 target ${mt.seconds['1'].toFixed(3)} s, 2 targets ${mt.seconds['2'].toFixed(3)} s, ` +
        `4 targets ${mt.seconds['4'].toFixed(3)} s = ${mt.fourVersusOne.toFixed(2)}× one (goal ≤ 2×)`,
    );
  }
  if (f.stickSpeed) {
    const st = f.stickSpeed;
    lines.push(
      `at a USB 2.0 stick's speed (${st.image}, loop devices throttled to ${st.writeMiBps} MiB/s write, ${st.readMiBps} MiB/s read): ` +
        `dd+cmp ${st.ddSeconds.toFixed(2)} s, obsbuild flash (CLI) ${st.obsbuildSeconds.toFixed(2)} s = ${st.ratio.toFixed(2)}× (goal: at par); ` +
        `1/2/4 targets ${st.multiTarget['1'].toFixed(2)}/${st.multiTarget['2'].toFixed(2)}/${st.multiTarget['4'].toFixed(2)} s = ${st.fourVersusOne.toFixed(2)}× one`,
    );
  } else lines.push(`at a USB 2.0 stick's speed: skipped (${f.stickSpeedSkipped})`);
  lines.push(
    `targets: time (CLI) ${f.meetsTimeTarget ? 'met' : 'MISSED'}, time (flash alone) ${f.meetsTimeTargetFlashOnly ? 'met' : 'MISSED'}, bytes ${f.meetsBytesTarget ? 'met' : 'MISSED'}`,
  );
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const json = process.argv.includes('--json');
  const runsAt = process.argv.indexOf('--runs');
  const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : undefined;
  const figures = await runFlashBench({ runs, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(json ? `${JSON.stringify(figures, null, 2)}\n` : `${formatFigures(figures)}\n`);
}
