import { FIRSTBOOT_NAME } from './box-paths.js';

/**
 * The lines the installer (msf_init.sh) and the first-boot script print on the console: the contract
 * between what runs on the box (src/box renders both scripts with these tags and step counts) and the
 * console that follows them.
 *   obsbuild-install: [3/8] extracting rootfs | obsbuild-install: done | obsbuild-install: FAILED [3/8] step: reason
 *   obsbuild-firstboot: [2/7] depmod -a | ... [2/7] ok | ... [2/7] FAILED: reason | obsbuild-firstboot: done manifest=<id>
 * The two scripts word a failure differently (the installer repeats the step's name, the first-boot script
 * prints it on the step's own line); both shapes are what sticks already made print, so both stay.
 */
export const INSTALL_TAG = 'obsbuild-install';
export const FIRSTBOOT_TAG = FIRSTBOOT_NAME;
/** How many `[n/N]` steps each script announces; the templates take N from here. */
export const INSTALL_STEP_COUNT = 8;
export const FIRSTBOOT_STEP_COUNT = 7;

export type Marker =
  | { kind: 'install-step'; n: number; total: number; name: string }
  | { kind: 'install-done' }
  | { kind: 'install-failed'; n: number; total: number; name: string; reason: string }
  | { kind: 'firstboot-step'; n: number; total: number; name: string }
  | { kind: 'firstboot-ok'; n: number; total: number }
  | { kind: 'firstboot-failed'; n: number; total: number; reason: string }
  | { kind: 'firstboot-done'; manifestId: string | null };

const INSTALL = new RegExp(`${INSTALL_TAG}: ` + String.raw`(?:(done)\b|FAILED \[(\d+)\/(\d+)\] ([^:]*?)(?:: (.*))?$|\[(\d+)\/(\d+)\] (.*)$)`);
const FIRSTBOOT = new RegExp(`${FIRSTBOOT_TAG}: ` + String.raw`(?:done(?: manifest=(\S+))?|\[(\d+)\/(\d+)\] (?:(ok)\s*$|FAILED(?:: (.*))?$|(.*)$))`);

/** Parses one console line (escape sequences already stripped); null when it is not a marker. */
export function parseMarker(line: string): Marker | null {
  const text = line.trimEnd();
  let m = INSTALL.exec(text);
  if (m) {
    if (m[1]) return { kind: 'install-done' };
    if (m[2]) return { kind: 'install-failed', n: +m[2], total: +m[3], name: m[4].trim(), reason: (m[5] ?? '').trim() };
    return { kind: 'install-step', n: +m[6], total: +m[7], name: m[8].trim() };
  }
  m = FIRSTBOOT.exec(text);
  if (m) {
    if (m[2] === undefined) return { kind: 'firstboot-done', manifestId: m[1] ?? null };
    const n = +m[2];
    const total = +m[3];
    if (m[4]) return { kind: 'firstboot-ok', n, total };
    if (m[6] !== undefined) return { kind: 'firstboot-step', n, total, name: m[6].trim() };
    return { kind: 'firstboot-failed', n, total, reason: (m[5] ?? '').trim() };
  }
  return null;
}
