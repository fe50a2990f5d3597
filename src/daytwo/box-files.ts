/**
 * Reading files on the box: for each path its SHA-256 (of the whole file) and its bytes, all paths in one
 * shell command, so a verify over a 115200-baud console or a slow link costs one round trip, not one per
 * file. The box's output is untrusted: it is parsed line by line against a strict shape, with caps.
 */
import { posix } from 'node:path';
import type { BoxShell } from '../remote/box-shell.js';
import { shQuote } from '../remote/sh-quote.js';
import { oneLine, UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';

export interface BoxFile {
  /** SHA-256 of the whole file on the box, hex. */
  sha256: string;
  /** Its size on the box. */
  size: number;
  /** Its content; only the first BOX_FILE_MAX_BYTES (or what was left of the total) when `truncated`. */
  bytes: Buffer;
  /** The file was bigger than what was transferred: `bytes` is a prefix, compare by `sha256` only. */
  truncated: boolean;
  /** Its permission bits and numeric owner on the box (absent when the box's stat said nothing of it). */
  meta?: FileMeta;
}

export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
}

/** A configuration file is a few kilobytes; bigger ones are hashed on the box, only this much is sent. */
export const BOX_FILE_MAX_BYTES = 256 * 1024;
/** Content sent for all paths together (a serial console moves about 11 KB/s). */
export const BOX_FILES_TOTAL_MAX_BYTES = 2 * 1024 * 1024;
/** More paths than any node's owned files. */
export const BOX_FILES_MAX_PATHS = 256;
const MAX_PATH_LENGTH = 4096;

const HEAD = '@@obsbuild-file';
const BEGIN = '@@obsbuild-files-begin';
const END = '@@obsbuild-files-end';
const STAT = '@@obsbuild-stat';

/**
 * The box's side: per path a header line `@@obsbuild-file I F SIZE SHA256 SENT` followed by the base64 of
 * the first SENT bytes, or `I M` (nothing there) / `I O` (there, but not a readable regular file). A file
 * sent whole has `-` for SHA256: its hash is taken of the bytes that arrive, so one read gives both and the
 * box starts two programs for it (wc, base64) instead of four; under emulation every one costs. Only a file
 * cut at a cap is hashed on the box. base64 never contains '@', so a header cannot be forged by file
 * content. Then one `stat` for every path gives modes and owners, a line `@@obsbuild-stat MODE UID GID PATH`
 * each (a path has no control characters, so it ends the line). POSIX sh and lenny's coreutils 6.10 (wc,
 * sha256sum, head -c, base64, stat -c) only.
 */
export function readFilesScript(paths: readonly string[], perFile = BOX_FILE_MAX_BYTES, total = BOX_FILES_TOTAL_MAX_BYTES): string {
  const lines = [
    `left=${total}`,
    'r() {',
    '  if [ -f "$2" ] && [ -r "$2" ]; then',
    '    s=$(wc -c < "$2")',
    `    n=${perFile}`,
    '    if [ "$n" -gt "$left" ]; then n=$left; fi',
    '    if [ "$s" -le "$n" ]; then',
    '      left=$((left - s))',
    `      echo "${HEAD} $1 F $s - $s"`,
    '      if [ "$s" -gt 0 ]; then base64 < "$2"; fi',
    '    else',
    '      h=$(sha256sum < "$2")',
    '      left=$((left - n))',
    `      echo "${HEAD} $1 F $s \${h%% *} $n"`,
    '      if [ "$n" -gt 0 ]; then head -c "$n" < "$2" | base64; fi',
    '    fi',
    `  elif [ -e "$2" ] || [ -h "$2" ]; then echo "${HEAD} $1 O"`,
    `  else echo "${HEAD} $1 M"; fi`,
    '}',
    `echo ${BEGIN}`,
    ...paths.map((p, i) => `r ${i} ${shQuote(p)}`),
    ...(paths.length ? [`stat -c '${STAT} %a %u %g %n' -- ${paths.map(shQuote).join(' ')} 2>/dev/null`] : []),
    `echo ${END}`,
  ];
  return lines.join('\n');
}

function checkPaths(paths: readonly string[], who: string): void {
  if (paths.length > BOX_FILES_MAX_PATHS) throw new UserError(`${who}: asked to read ${paths.length} files at once; at most ${BOX_FILES_MAX_PATHS}`, { code: 'box-failed' });
  for (const p of paths) {
    if (!posix.isAbsolute(p) || p.length > MAX_PATH_LENGTH || /[\x00-\x1f\x7f]/.test(p)) {
      throw new UserError(`${who}: cannot read ${JSON.stringify(p.slice(0, 200))}: needs an absolute path without control characters`, { code: 'box-failed' });
    }
  }
}

/** One read of files, ready to run: alone (readBoxFiles) or as one command of a larger batch (verify). */
export interface BoxFilesRequest {
  /** The paths, each once, in the order the script reads them. */
  paths: string[];
  /** The box's side (readFilesScript). */
  script: string;
  /** How long the script may take on a 115200-baud line, where the most it can send takes minutes. */
  timeoutMs: number;
  /** The most characters the script can print (parseBoxFiles refuses more). */
  maxChars: number;
  /** The script's output and exit status as the files by path; anything else is a one-line error naming the box. */
  parse(output: string, exitCode: number): Map<string, BoxFile | null>;
}

/**
 * Checks `paths` (a bad one is refused before anything runs on the box) and prepares the script reading them.
 * `lineBytesPerSecond`: the link's speed when it limits (BoxShell.lineBytesPerSecond).
 */
export function boxFilesRequest(paths: readonly string[], who = 'the box', lineBytesPerSecond?: number): BoxFilesRequest {
  const unique = [...new Set(paths)];
  checkPaths(unique, who);
  // base64 makes 4 bytes of 3: the time a slow line needs for the most that can be sent, on top of a minute
  const onTheLine = lineBytesPerSecond ? Math.ceil((BOX_FILES_TOTAL_MAX_BYTES * 4) / 3 / lineBytesPerSecond) * 1000 : 0;
  return {
    paths: unique,
    script: readFilesScript(unique),
    timeoutMs: 60_000 + onTheLine,
    maxChars: maxOutputChars(unique.length),
    parse(output, exitCode) {
      const parsed = parseBoxFiles(output, unique, who);
      if (exitCode !== 0) throw new UserError(`${who}: reading ${unique.length} file(s) failed with exit status ${exitCode}`, { code: 'box-failed' });
      return new Map(unique.map((p, i) => [p, parsed[i]]));
    },
  };
}

/**
 * Each path's file on the box, or null when there is no readable regular file there (missing, a directory,
 * a device). One `shell.run`. `who` names the box in errors.
 */
export async function readBoxFiles(shell: BoxShell, paths: readonly string[], who = 'the box'): Promise<Map<string, BoxFile | null>> {
  const req = boxFilesRequest(paths, who, shell.lineBytesPerSecond);
  if (req.paths.length === 0) return new Map();
  const r = await shell.run(req.script, { timeoutMs: req.timeoutMs });
  return req.parse(r.stdout, r.exitCode);
}

/** The most the script prints for `count` paths: the capped content as base64 with its line ends, headers, start-up noise. */
function maxOutputChars(count: number): number {
  return Math.ceil((BOX_FILES_TOTAL_MAX_BYTES * 4) / 3) * 1.1 + (count + 2) * 200 + 64 * 1024;
}

/**
 * Parses the script's output for `paths` (in order). Linear: one pass over the lines, each line
 * matched by anchored patterns without nested repetition. Anything else is an error naming the box.
 */
export function parseBoxFiles(output: string, paths: readonly string[], who = 'the box'): (BoxFile | null)[] {
  const count = paths.length;
  const bad = (why: string) => new UserError(`${who}: unexpected output while reading files: ${oneLine(why.slice(0, 200))}`, { code: 'box-failed' });
  if (output.length > maxOutputChars(count)) throw bad(`${output.length} characters, more than the files can account for`);
  // a serial console's tty may end lines with CR LF
  const lines = output.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === '') lines.pop();
  // a login shell's start-up files may print something first; everything after the begin line is ours
  let i = lines.indexOf(BEGIN);
  if (i < 0) throw bad('no start marker (is /bin/sh a POSIX shell?)');
  i++;
  const results: (BoxFile | null)[] = [];
  let sentTotal = 0;
  for (let index = 0; index < count; index++) {
    const line = lines[i++];
    if (line === undefined) throw bad(`output ends before ${paths[index]}`);
    const simple = /^@@obsbuild-file (\d+) ([MO])$/.exec(line);
    if (simple) {
      if (Number(simple[1]) !== index) throw bad(`file #${simple[1]} where #${index} (${paths[index]}) was expected`);
      results.push(null);
      continue;
    }
    const m = /^@@obsbuild-file (\d+) F (\d{1,15}) ([0-9a-f]{64}|-) (\d{1,15})$/.exec(line);
    if (!m) throw bad(line);
    if (Number(m[1]) !== index) throw bad(`file #${m[1]} where #${index} (${paths[index]}) was expected`);
    const size = Number(m[2]);
    const sent = Number(m[4]);
    const boxHash = m[3] === '-' ? null : m[3];
    sentTotal += sent;
    // only a file sent whole may leave its hash to us
    if (sent > size || sent > BOX_FILE_MAX_BYTES || sentTotal > BOX_FILES_TOTAL_MAX_BYTES || (boxHash === null && sent !== size)) throw bad(line);
    // the size was taken before the content was read: a file that grew or shrank in between sends other than announced
    const changed = () => new UserError(`${who}: ${paths[index]} changed while it was read (its size and its content disagree); run again`, { code: 'box-failed' });
    const chunks: string[] = [];
    let chars = 0;
    const want = Math.ceil(sent / 3) * 4;
    while (chars < want) {
      const l = lines[i];
      if (l === undefined || !/^[A-Za-z0-9+/]{1,76}={0,2}$/.test(l)) {
        if (boxHash === null && l !== undefined && l.startsWith('@@obsbuild-file')) throw changed();
        throw bad(l === undefined ? `output ends inside ${paths[index]}` : `in ${paths[index]}: ${l}`);
      }
      chunks.push(l);
      chars += l.length;
      i++;
    }
    if (boxHash === null && chars === want && /^[A-Za-z0-9+/]{1,76}={0,2}$/.test(lines[i] ?? '')) throw changed();
    if (chars !== want) {
      if (boxHash === null) throw changed();
      throw bad(`${paths[index]}: ${chars} base64 characters for ${sent} bytes`);
    }
    const bytes = Buffer.from(chunks.join(''), 'base64');
    if (bytes.length !== sent) {
      if (boxHash === null) throw changed();
      throw bad(`${paths[index]}: ${bytes.length} bytes decoded, ${sent} announced`);
    }
    const truncated = sent < size;
    const sha256 = boxHash ?? sha256Hex(bytes);
    // without this a file rewritten between hashing and sending would pass off one content as the other
    if (!truncated && sha256Hex(bytes) !== sha256) {
      throw new UserError(`${who}: ${paths[index]} changed while it was read (its SHA-256 and its content disagree); run again`, { code: 'box-failed' });
    }
    results.push({ sha256, size, bytes, truncated });
  }
  const index = new Map(paths.map((p, n) => [p, n]));
  const statted = new Set<number>();
  for (; lines[i]?.startsWith(`${STAT} `); i++) {
    const m = /^@@obsbuild-stat ([0-7]{1,5}) (\d{1,10}) (\d{1,10}) (\/.*)$/.exec(lines[i]);
    const n = m ? index.get(m[4]) : undefined;
    if (!m || n === undefined || statted.has(n)) throw bad(lines[i]);
    statted.add(n);
    const file = results[n];
    if (file) file.meta = { mode: parseInt(m[1], 8) & 0o7777, uid: Number(m[2]), gid: Number(m[3]) };
  }
  if (lines[i] !== END) throw bad(lines[i] === undefined ? 'no end marker' : lines[i]);
  return results;
}
