/**
 * /etc/sysctl.conf as lenny's procps 3.2.7 reads it: one `key = value` a line, read with fgets into a
 * 256-byte buffer (a longer line is read as two lines, the second one a setting of its own), `#` or `;`
 * at the start of a line for comments, the key up to the first `=`, the value to the end of the line with
 * surrounding blanks dropped. Keys name files under /proc/sys with `.` for `/`.
 */
import { firstRefused, guarded, isPrintableAscii, named, type Problem } from './value.js';
import { SYSCTL_CONF_PATH } from '../../contracts/box-paths.js';


/** procps 3.2.7's line buffer is 256 bytes, the newline included. */
export const MAX_SYSCTL_LINE = 254;

const KEY = /^[a-z0-9_]+(\.[a-z0-9_-]+)+$/;

export function sysctlKeyProblem(key: string): Problem {
  if (KEY.test(key)) return undefined;
  return 'is not a sysctl key: dot-separated words of lower-case letters, digits, "_" or "-", e.g. net.ipv4.conf.all.rp_filter';
}

export function sysctlValueProblem(value: string): Problem {
  if (value.trim() === '') return 'is empty; procps skips a setting without a value';
  if (value !== value.trim()) return 'starts or ends with blanks, which procps drops; remove them';
  const bad = firstRefused(value, (ch) => isPrintableAscii(ch) || ch === ' ' || ch === '\t');
  if (bad === undefined) return undefined;
  return `contains ${named(bad)}; a sysctl.conf value is one line of printable ASCII (a newline would add a setting of its own)`;
}

/** The written line, `key = value`. */
export function sysctlLine(key: string, value: string): string {
  return `${key} = ${value}`;
}

/** Problems of a whole setting: key, value, then the line length procps can read. */
export function sysctlSettingProblem(key: string, value: string): { part: 'key' | 'value'; problem: string } | undefined {
  const keyProblem = sysctlKeyProblem(key);
  if (keyProblem) return { part: 'key', problem: keyProblem };
  const valueProblem = sysctlValueProblem(value);
  if (valueProblem) return { part: 'value', problem: valueProblem };
  const length = sysctlLine(key, value).length;
  if (length > MAX_SYSCTL_LINE) {
    return { part: 'value', problem: `makes a ${length}-character line; procps 3.2.7 reads at most ${MAX_SYSCTL_LINE} and reads the rest as another setting` };
  }
  return undefined;
}

/** The renderer's guard: the `key = value` line, or a thrown error. */
export function sysctlSetting(key: string, value: string): string {
  const found = sysctlSettingProblem(key, value);
  if (found) guarded(SYSCTL_CONF_PATH, found.part === 'key' ? 'the sysctl key' : `the value of ${key}`, found.part === 'key' ? key : value, found.problem);
  return sysctlLine(key, value);
}
