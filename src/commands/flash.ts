import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { action, handleInterrupts } from './action.js';
import { UsageError, UserError } from '../util/errors.js';
import { describeForHumans, describeTarget, formatSize, listCandidates, type BlockDeviceInfo } from '../flash/device.js';
import { findDefaultImage, loadImage } from '../flash/image.js';
import { overlappingTargets, refusals } from '../flash/safety.js';
import { FlashInterrupted, flashImageToMany, type FlashPhase, type FlashProgress, type TargetOutcome } from '../flash/write.js';
import { multiProgressRenderer, progressRenderer } from '../flash/progress.js';
import { mappedBytes } from '../flash/bmap.js';

interface FlashFlags {
  image?: string;
  yes?: boolean;
  serial?: string;
  forceUnsafeTarget?: boolean;
  json?: boolean;
  list?: boolean;
}

/** `devices`: one device path, or several joined with ", ". */
async function confirm(devices: string, yes: boolean | undefined): Promise<void> {
  if (!process.stdin.isTTY) {
    // Scripts must say so explicitly; a terminal user always types the answer.
    if (!yes) throw new UserError(`${devices}: stdin is not a terminal, pass --yes to confirm the overwrite; nothing was written`, { code: 'target-refused' });
    return;
  }
  if (yes) process.stderr.write('(--yes only applies when stdin is not a terminal)\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Everything on ${devices} will be lost. Type 'yes' to write ${devices.includes(', ') ? 'them' : 'it'}: `);
    if (answer.trim() !== 'yes') throw new UserError(`${devices}: not confirmed; nothing was written`, { code: 'target-refused' });
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
    phase === 'clearing signatures'
      ? `${device} is now incomplete (a half-written stick)`
      : phase === 'writing'
        ? `${device} is now incomplete (a half-written stick, its partition table blank so it will not boot)`
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
    .argument('[devices...]', 'the whole-disk block device of each USB stick, e.g. /dev/sdb or /dev/disk/by-id/usb-… (several: written at once)')
    .option('--image <file>', 'the stick image (default: the one out/<hostname>/stick.img)')
    .option('--yes', 'confirm without a question; only honoured when stdin is not a terminal')
    .option('--serial <serial>', 'refuse unless the device has this serial number (one target only)')
    .option('--list', 'list removable and USB disks, then exit')
    .option('--json', 'print the final report as JSON on stdout (an array with several targets)')
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
        'partition and must match its block map (every range\'s sha256; no data outside the ranges).\n' +
        'The target\'s vendor, model, serial and size are shown and you type "yes". It is opened exclusively;\n' +
        'only the ranges in stick.img.bmap (bmaptool\'s format) are written, old partition-table and filesystem signatures in\n' +
        'the first 512 KiB and the last 256 KiB are zeroed, the data is synced, read back from the device and compared\n' +
        '(byte for byte with the image), and the kernel re-reads the partition table. The image is checked against its map\n' +
        'once, before the first write; if the file is rebuilt or written to after that, the flash fails. Ctrl-C stops the\n' +
        'write; the stick is then incomplete: run the command again.\n' +
        'Several devices: every one must pass these checks before any is written; the image is read once and\n' +
        'written to all at once, one progress line per stick; a stick that fails is reported and the others go on.\n' +
        'Exit 0 only when every stick was written and verified.',
    )
    .action(
      action(async (devices: string[], flags: FlashFlags) => {
        if (flags.list) {
          const disks = await listCandidates();
          if (flags.json) process.stdout.write(`${JSON.stringify(disks, null, 2)}\n`);
          else if (disks.length === 0) process.stdout.write('no removable or USB disks found\n');
          else for (const d of disks) process.stdout.write(`${describeForHumans(d)}${d.mounts.length ? ' [mounted]' : ''}\n`);
          return;
        }
        if (devices.length === 0) throw new UsageError('flash needs the device to write, e.g. obsbuild flash /dev/sdb (see --list)');
        if (flags.serial !== undefined && devices.length > 1) throw new UsageError('--serial pins one stick: give one device with it');

        const { image, map, sparse, identity } = await loadImage(flags.image ?? (await findDefaultImage()));
        // Every target is checked before any is written: a refusal of the third stick must not leave two written.
        const targets: BlockDeviceInfo[] = [];
        for (const device of devices) targets.push(await describeTarget(device));
        const problems = [
          ...targets.flatMap((t) => refusals(t, { imageSize: map.imageSize, forceUnsafeTarget: flags.forceUnsafeTarget, serial: flags.serial })),
          ...overlappingTargets(targets),
        ];
        if (problems.length === 1) throw new UserError(`${problems[0]}; nothing was written`, { code: 'target-refused' });
        if (problems.length > 1) throw new UserError(`refusing to write ${devices.join(', ')}: ${problems.join('; ')}; nothing was written`, { code: 'target-refused' });

        for (const target of targets) process.stderr.write(`target: ${describeForHumans(target)}\n`);
        process.stderr.write(
          `image:  ${image}, ${formatSize(map.imageSize)}, ` +
            (sparse ? `${formatSize(mappedBytes(map))} in ${map.ranges.length} mapped ranges\n` : 'no block map: writing all of it\n'),
        );
        const names = devices.join(', ');
        await confirm(names, flags.yes);

        const single = devices.length === 1 ? progressRenderer(process.stderr) : undefined;
        const multi = single ? undefined : multiProgressRenderer(devices, process.stderr);
        const stop = stopOnSignal(names);
        let outcomes: TargetOutcome[];
        try {
          try {
            const onProgress = (index: number, p: FlashProgress): void => {
              stop.phase = p.phase;
              if (single) single.update(p);
              else multi!.update(index, p);
            };
            outcomes = await flashImageToMany({ image, map, identity, targets, onProgress, signal: stop.signal });
          } finally {
            single?.finish();
            multi?.finish();
            stop.release();
          }
        } catch (err) {
          if (!(err instanceof FlashInterrupted)) throw err;
          process.stderr.write(`${interruptedLine(names, err.phase, err.reason)}\n`);
          return exitCodeFor(err.reason);
        }
        if (devices.length === 1 && outcomes[0].error) throw outcomes[0].error;
        const described = outcomes.map((o, i) => {
          const { path: _p, mounts: _m, holders: _h, aliases: _a, ...device } = targets[i];
          return o.report ? { ...o.report, target: device } : { device: o.device, error: o.error!.message, target: device };
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(devices.length === 1 ? described[0] : described, null, 2)}\n`);
        } else {
          for (const o of outcomes) {
            if (o.error) {
              process.stdout.write(`FAILED ${o.device}: ${o.error.message}\n`);
              continue;
            }
            const report = o.report!;
            process.stdout.write(
              `${devices.length > 1 ? 'ok     ' : ''}wrote ${formatSize(report.bytesWritten)} to ${report.device} (${formatSize(report.mappedBytes)} of image data, ` +
                `${formatSize(report.clearedBytes)} of old signatures cleared) in ${report.seconds.total}s; ` +
                `read back and verified ${formatSize(report.verifiedBytes)}; partition table re-read: ${report.partitionTableReread}\n`,
            );
          }
          if (devices.length > 1) {
            const failed = outcomes.filter((o) => o.error).length;
            process.stdout.write(`${outcomes.length - failed} of ${outcomes.length} sticks written and verified${failed ? `; ${failed} failed` : ''}\n`);
          }
        }
        return outcomes.some((o) => o.error) ? 1 : 0;
      }),
    );
}
