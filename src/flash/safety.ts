import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { describeBlockDevice, devNumbers, formatSize, realSystem, type BlockDeviceInfo, type SystemView } from './device.js';

/**
 * The rules that decide whether a device may be overwritten. Pure functions over what
 * device.ts read, so every rule is testable without a real disk.
 */
export interface TargetPolicy {
  imageSize: number;
  /** allow a fixed (non-removable, non-USB) disk such as a loop device; never allows a disk in use */
  forceUnsafeTarget?: boolean;
  /** the serial number the user pinned with --serial */
  serial?: string;
}

/** Why a device that is not the target's own name is written along with it: ", where loop4 is …". */
function aliasNote(d: BlockDeviceInfo, device: string): string {
  const alias = d.aliases.find((a) => a.name === device);
  return alias ? `, where ${alias.why}` : '';
}

/** Every reason to refuse the target, one line each; empty when it is safe to write. */
export function refusals(d: BlockDeviceInfo, policy: TargetPolicy): string[] {
  const out: string[] = [];
  if (d.isPartition) {
    out.push(`${d.path} is a partition (${d.name}) of /dev/${d.disk}: give the whole disk, the image carries its own partition table`);
  }
  // A disk in use is refused even with --force-unsafe-target: writing it would wreck a running system.
  const root = d.mounts.find((m) => m.mountpoint === '/');
  if (root) {
    out.push(`${d.path} is the disk of / (${root.source} on ${root.device}): refusing, whatever the flags`);
  } else if (d.mounts.length > 0) {
    const list = d.mounts.map((m) => `${m.source} on ${m.mountpoint}${aliasNote(d, m.device)}`).join(', ');
    out.push(`${d.path} holds mounted filesystems (${list}): unmount them first`);
  }
  if (d.holders.length > 0) {
    out.push(`${d.path} is in use by ${d.holders.map((h) => `/dev/${h}${aliasNote(d, h)}`).join(', ')} (device-mapper, RAID or LVM): stop them first`);
  }
  if (!d.removable && !d.usb && !policy.forceUnsafeTarget) {
    out.push(`${d.path} is neither removable nor on USB according to sysfs: not a USB stick (use --force-unsafe-target only for test loop devices)`);
  }
  if (d.readOnly) {
    out.push(`${d.path} is read-only (write-protect switch?)`);
  }
  if (d.size < policy.imageSize) {
    out.push(`${d.path} is too small: ${formatSize(d.size)} (${d.size} bytes) for an image of ${formatSize(policy.imageSize)} (${policy.imageSize} bytes)`);
  }
  if (policy.serial !== undefined && d.serial !== policy.serial) {
    out.push(`${d.path} has serial ${d.serial === undefined ? 'none' : JSON.stringify(d.serial)}, not ${JSON.stringify(policy.serial)} as pinned by --serial`);
  }
  return out;
}

/** Throws when the target may not be written; the message lists every reason. */
export function assertSafeTarget(d: BlockDeviceInfo, policy: TargetPolicy): void {
  const reasons = refusals(d, policy);
  if (reasons.length === 1) throw new UserError(`${reasons[0]}; nothing was written`, { code: 'target-refused' });
  if (reasons.length > 1) throw new UserError(`refusing to write ${d.path}: ${reasons.join('; ')}; nothing was written`, { code: 'target-refused' });
}

/**
 * Makes sure the open device is still the one that was checked: same numbers, same size, same
 * serial. Catches a stick swapped (or a path re-pointed) between the check and the write.
 */
export async function recheckIdentity(fd: FileHandle, checked: BlockDeviceInfo, when: string, sys: SystemView = realSystem): Promise<void> {
  const st = await fd.stat();
  const [major, minor] = devNumbers(st.rdev);
  const changed = (what: string): never => {
    throw new UserError(`${checked.path} changed ${when} (${what}): stopped; check the device and run flash again`, { code: 'target-refused' });
  };
  if (!st.isBlockDevice()) changed('no longer a block device');
  if (major !== checked.major || minor !== checked.minor) changed(`now ${major}:${minor}, was ${checked.major}:${checked.minor}`);
  const now = await describeBlockDevice(checked.path, major, minor, sys);
  if (now.size !== checked.size) changed(`size now ${now.size} bytes, was ${checked.size}`);
  if (now.serial !== checked.serial) changed(`serial now ${now.serial ?? 'none'}, was ${checked.serial ?? 'none'}`);
}

/**
 * Several targets must be several sticks: two names for one device (a by-id link and /dev/sdb), or a loop
 * device and the file or disk it sits on, would be written twice at once. One line per clash.
 */
export function overlappingTargets(targets: readonly BlockDeviceInfo[]): string[] {
  const out: string[] = [];
  const id = (d: BlockDeviceInfo) => `${d.major}:${d.minor}`;
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) {
      const a = targets[i];
      const b = targets[j];
      if (id(a) === id(b)) out.push(`${a.path} and ${b.path} are the same device (${a.name})`);
      else if (a.aliases.some((x) => x.dev === id(b)) || b.aliases.some((x) => x.dev === id(a))) {
        const alias = a.aliases.find((x) => x.dev === id(b)) ?? b.aliases.find((x) => x.dev === id(a));
        out.push(`${a.path} and ${b.path} write to the same place (${alias?.why ?? 'aliases'})`);
      }
    }
  }
  return out;
}
