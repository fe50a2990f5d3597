import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { action, handleInterrupts } from './action.js';
import { UsageError, UserError } from '../util/errors.js';
import { describeForHumans, describeTarget, formatSize, listCandidates } from '../flash/device.js';
import { findDefaultImage, loadImage } from '../flash/image.js';
import { assertSafeTarget } from '../flash/safety.js';
import { FlashInterrupted, flashImage, type FlashPhase, type FlashProgress } from '../flash/write.js';
import { progressRenderer } from '../flash/progress.js';
import { mappedBytes } from '../flash/bmap.js';

interface FlashFlags {
  image?: string;
  yes?: boolean;
  serial?: string;
  forceUnsafeTarget?: boolean;
  json?: boolean;
  list?: boolean;
}

async function confirm(devicePath: string, yes: boolean | undefined): Promise<void> {
  if (!process.stdin.isTTY) {
    // Scripts must say so explicitly; a terminal user always types the answer.
    if (!yes) throw new UserError(`${devicePath}: stdin is not a terminal, pass --yes to confirm the overwrite; nothing was written`);
    return;
  }
  if (yes) process.stderr.write('(--yes only applies when stdin is not a terminal)\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Everything on ${devicePath} will be lost. Type 'yes' to write it: `);
    if (answer.trim() !== 'yes') throw new UserError(`${devicePath}: not confirmed; nothing was written`);
  } finally {
    rl.close();
  }
}

/** Shell convention: 128 + the signal's number. */
function exitCodeFor(signal: unknown): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** What a user must know after an interrupted flash: the stick is not usable as it is. */
function interruptedLine(device: string, phase: FlashPhase, signal: unknown): string {
  const state =
    phase === 'clearing signatures' || phase === 'writing'
      ? `${device} is now incomplete (a half-written stick)`
      : `${device} was written but not verified; treat it as incomplete`;
  return `obsbuild: flash interrupted (${String(signal)}) while ${phase}: ${state}; run the command again`;
}

/**
 * SIGINT/SIGTERM during the write: the first one stops the flash at the next chunk (the device is
 * closed properly and the user told what state it is in); a second one exits at once.
 */
function stopOnSignal(device: string): { signal: AbortSignal; phase: FlashPhase; release(): void } {
  const controller = new AbortController();
  const release = handleInterrupts((sig) => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${interruptedLine(device, stop.phase, sig)}\n`);
      process.exit(exitCodeFor(sig));
    }
    controller.abort(sig);
    return true;
  });
  const stop = {
    signal: controller.signal,
    phase: 'clearing signatures' as FlashPhase,
    release,
  };
  return stop;
}

export function register(program: Command): void {
  program
    .command('flash')
    .description('write stick.img to a USB stick (sparse, via its block map), then read it back and compare')
    .argument('[device]', 'the whole-disk block device of the USB stick, e.g. /dev/sdb or /dev/disk/by-id/usb-…')
    .option('--image <file>', 'the stick image (default: the one out/<hostname>/stick.img)')
    .option('--yes', 'confirm without a question; only honoured when stdin is not a terminal')
    .option('--serial <serial>', 'refuse unless the device has this serial number')
    .option('--list', 'list removable and USB disks, then exit')
    .option('--json', 'print the final report as JSON on stdout')
    .option(
      '--force-unsafe-target',
      'DANGEROUS: also allow a fixed, non-USB disk (meant for loop devices in tests). ' +
        'A mounted disk, the disk of / and a partition are refused regardless.',
    )
    .addHelpText(
      'after',
      '\nBefore writing, the target must be a whole-disk block device, removable or on USB, with no mounted\n' +
        'filesystem, not the disk of / or of any mounted filesystem, and at least as large as the image. Devices\n' +
        'that write to the same place count as the target: another loop device on the same file, a loop device\n' +
        'on the target, dm/md devices stacked on any of them. The image must start with an MBR that lists a\n' +
        'partition and must match its block map (every range, and its sha256 when recorded).\n' +
        'The target\'s vendor, model, serial and size are shown and you type "yes". It is opened exclusively;\n' +
        'only the ranges in stick.img.bmap.json are written, old partition-table and filesystem signatures in\n' +
        'the first 512 KiB and the last 256 KiB are zeroed, the data is synced, read back from the device and compared\n' +
        '(sha256 per range), and the kernel re-reads the partition table. Ctrl-C stops the write; the stick is\n' +
        'then incomplete: run the command again.',
    )
    .action(
      action(async (device: string | undefined, flags: FlashFlags) => {
        if (flags.list) {
          const disks = await listCandidates();
          if (flags.json) process.stdout.write(`${JSON.stringify(disks, null, 2)}\n`);
          else if (disks.length === 0) process.stdout.write('no removable or USB disks found\n');
          else for (const d of disks) process.stdout.write(`${describeForHumans(d)}${d.mounts.length ? ' [mounted]' : ''}\n`);
          return;
        }
        if (!device) throw new UsageError('flash needs the device to write, e.g. obsbuild flash /dev/sdb (see --list)');

        const { image, map, sparse } = await loadImage(flags.image ?? (await findDefaultImage()));
        const target = await describeTarget(device);
        assertSafeTarget(target, { imageSize: map.imageSize, forceUnsafeTarget: flags.forceUnsafeTarget, serial: flags.serial });

        process.stderr.write(`target: ${describeForHumans(target)}\n`);
        process.stderr.write(
          `image:  ${image}, ${formatSize(map.imageSize)}, ` +
            (sparse ? `${formatSize(mappedBytes(map))} in ${map.ranges.length} mapped ranges\n` : 'no block map: writing all of it\n'),
        );
        await confirm(device, flags.yes);

        const progress = progressRenderer(process.stderr);
        const stop = stopOnSignal(device);
        let report;
        try {
          try {
            const onProgress = (p: FlashProgress): void => {
              stop.phase = p.phase;
              progress.update(p);
            };
            report = await flashImage({ image, map, target, onProgress, signal: stop.signal });
          } finally {
            progress.finish();
            stop.release();
          }
        } catch (err) {
          if (!(err instanceof FlashInterrupted)) throw err;
          process.stderr.write(`${interruptedLine(device, err.phase, err.reason)}\n`);
          return exitCodeFor(err.reason);
        }
        if (flags.json) {
          const { path: _p, mounts: _m, holders: _h, aliases: _a, ...device } = target;
          process.stdout.write(`${JSON.stringify({ ...report, target: device }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `wrote ${formatSize(report.bytesWritten)} to ${report.device} (${formatSize(report.mappedBytes)} of image data, ` +
              `${formatSize(report.clearedBytes)} of old signatures cleared) in ${report.seconds.total}s; ` +
              `read back and verified ${formatSize(report.verifiedBytes)}; partition table re-read: ${report.partitionTableReread}\n`,
          );
        }
      }),
    );
}
