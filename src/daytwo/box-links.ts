/**
 * Symbolic links on the box: for each path whether a symlink is there and where it points, all paths in one
 * shell command (a batch command for verify, one run for apply). The box's output is untrusted: parsed line by
 * line against a strict shape, each target capped at PATH_MAX.
 */
import type { BoxShell } from '../remote/box-shell.js';
import { shQuote } from '../remote/sh-quote.js';
import { oneLine, UserError } from '../util/errors.js';

/** What is at a path: a symlink and its target, a directory, something else (a file, a device), or nothing. */
export type BoxLink = { kind: 'symlink'; target: string } | { kind: 'dir' } | { kind: 'other' } | { kind: 'missing' };

/** Linux's PATH_MAX: no link target is longer. */
const MAX_TARGET_BYTES = 4096;
/** More paths than a site's files: folder holds links (its entries are capped at 4096 in all). */
export const BOX_LINKS_MAX_PATHS = 4096;

const HEAD = '@@obsbuild-link';
const BEGIN = '@@obsbuild-links-begin';
const END = '@@obsbuild-links-end';

/**
 * The box's side: per path `@@obsbuild-link I L` then the base64 of `readlink`'s output (the target and a
 * newline), `I D` (a directory), `I O` (something else) or `I M` (nothing). `-h` is tested first: `-d` and
 * `-e` follow links. POSIX sh, coreutils' readlink and base64 (lenny has both).
 */
export function readLinksScript(paths: readonly string[]): string {
  return [
    'l() {',
    `  if [ -h "$2" ]; then echo "${HEAD} $1 L"; readlink -- "$2" | base64`,
    `  elif [ -d "$2" ]; then echo "${HEAD} $1 D"`,
    `  elif [ -e "$2" ]; then echo "${HEAD} $1 O"`,
    `  else echo "${HEAD} $1 M"; fi`,
    '}',
    `echo ${BEGIN}`,
    ...paths.map((p, i) => `l ${i} ${shQuote(p)}`),
    `echo ${END}`,
  ].join('\n');
}

/** One read of links, ready to run alone (readBoxLinks) or as one command of a batch (verify). */
export interface BoxLinksRequest {
  paths: string[];
  script: string;
  /** The most characters the script can print (parse refuses more). */
  maxChars: number;
  parse(output: string, exitCode: number): Map<string, BoxLink>;
}

export function boxLinksRequest(paths: readonly string[], who = 'the box'): BoxLinksRequest {
  const unique = [...new Set(paths)];
  if (unique.length > BOX_LINKS_MAX_PATHS) throw new UserError(`${who}: asked to read ${unique.length} links at once; at most ${BOX_LINKS_MAX_PATHS}`, { code: 'box-failed' });
  for (const p of unique) {
    if (!p.startsWith('/') || p.length > MAX_TARGET_BYTES || /[\x00-\x1f\x7f]/.test(p)) {
      throw new UserError(`${who}: cannot read the link ${JSON.stringify(p.slice(0, 200))}: needs an absolute path without control characters`, { code: 'box-failed' });
    }
  }
  const maxChars = maxOutputChars(unique.length);
  return {
    paths: unique,
    script: readLinksScript(unique),
    maxChars,
    parse(output, exitCode) {
      const parsed = parseBoxLinks(output, unique, who);
      if (exitCode !== 0) throw new UserError(`${who}: reading ${unique.length} link(s) failed with exit status ${exitCode}`, { code: 'box-failed' });
      return new Map(unique.map((p, i) => [p, parsed[i]]));
    },
  };
}

/** Each path's link on the box, in one `shell.run`. */
export async function readBoxLinks(shell: BoxShell, paths: readonly string[], who = 'the box'): Promise<Map<string, BoxLink>> {
  const req = boxLinksRequest(paths, who);
  if (req.paths.length === 0) return new Map();
  const r = await shell.run(req.script, { timeoutMs: 60_000 });
  return req.parse(r.stdout, r.exitCode);
}

function maxOutputChars(count: number): number {
  // a target of PATH_MAX as base64 in 76-character lines, and its header, per path; start-up noise
  return count * (Math.ceil(((MAX_TARGET_BYTES + 1) * 4) / 3 / 76) * 78 + 40) + 64 * 1024;
}

/** Parses the script's output for `paths` (in order); one pass over the lines, anchored patterns only. */
export function parseBoxLinks(output: string, paths: readonly string[], who = 'the box'): BoxLink[] {
  const bad = (why: string) => new UserError(`${who}: unexpected output while reading links: ${oneLine(why.slice(0, 200))}`, { code: 'box-failed' });
  if (output.length > maxOutputChars(paths.length)) throw bad(`${output.length} characters, more than the links can account for`);
  const lines = output.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === '') lines.pop();
  let i = lines.indexOf(BEGIN);
  if (i < 0) throw bad('no start marker (is /bin/sh a POSIX shell?)');
  i++;
  const results: BoxLink[] = [];
  for (let index = 0; index < paths.length; index++) {
    const line = lines[i++];
    const m = line === undefined ? null : /^@@obsbuild-link (\d{1,5}) ([LDOM])$/.exec(line);
    if (!m) throw bad(line === undefined ? `output ends before ${paths[index]}` : line);
    if (Number(m[1]) !== index) throw bad(`link #${m[1]} where #${index} (${paths[index]}) was expected`);
    if (m[2] !== 'L') {
      results.push({ kind: m[2] === 'D' ? 'dir' : m[2] === 'O' ? 'other' : 'missing' });
      continue;
    }
    let b64 = '';
    while (lines[i] !== undefined && /^[A-Za-z0-9+/]{1,76}={0,2}$/.test(lines[i])) {
      b64 += lines[i++];
      if (b64.length > Math.ceil(((MAX_TARGET_BYTES + 1) * 4) / 3)) throw bad(`${paths[index]}: a link target longer than ${MAX_TARGET_BYTES} bytes`);
    }
    const text = Buffer.from(b64, 'base64').toString('utf8');
    // readlink ends its line with a newline; a target may hold anything but NUL, newlines included
    if (!text.endsWith('\n') || text.length === 1) throw bad(`${paths[index]}: no link target`);
    results.push({ kind: 'symlink', target: text.slice(0, -1) });
  }
  if (lines[i] !== END) throw bad(lines[i] === undefined ? 'no end marker' : lines[i]);
  return results;
}
