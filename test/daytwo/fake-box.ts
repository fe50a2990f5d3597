/**
 * A BoxShell over an in-memory box: files in a map, each console-check command answered from a table, and
 * the file-reading script answered the way the box's /bin/sh would (headers plus base64), so verify's logic
 * is tested without a board. Every command run is recorded; putFile is refused (verify must not write).
 */
import { createHash } from 'node:crypto';
import type { BoxShell, RunResult } from '../../src/remote/box-shell.js';
import { MODULES_DEP_FRESH } from '../../src/console/checks.js';
import { GOOD_IPVSADM } from '../console/simulator.js';
import { BOX_FILE_MAX_BYTES } from '../../src/daytwo/box-files.js';

export const GOOD_IPADDR_SINGLE = `1: lo    inet 127.0.0.1/8 scope host lo
2: eth0    inet 192.168.253.254/24 brd 192.168.253.255 scope global eth0
2: eth0    inet 192.168.253.120/24 brd 192.168.253.255 scope global secondary eth0:120
3: eth1    inet 172.16.14.120/24 brd 172.16.14.255 scope global eth1
`;

/** The guide's table, as the console simulator's box shows it: one fixture for both. */
export const GOOD_IPVSADM_SINGLE = GOOD_IPVSADM;

export const BOX_SHADOW = 'root:$1$old$abcdefghijklmnopqrstuv:14000:0:99999:7:::\ndaemon:*:14000:0:99999:7:::\n';

export function goodAnswers(o: { hostname: string; ipAddr: string; ipvsadm: string; manifestId?: string }): Map<string, RunResult> {
  return new Map<string, RunResult>([
    [MODULES_DEP_FRESH, { exitCode: 0, stdout: '' }],
    ['uname -r; ls /lib/modules', { exitCode: 0, stdout: '2.6.29\n2.6.29\n' }],
    ['modprobe ip_vs', { exitCode: 0, stdout: '' }],
    ['cat /etc/obsbuild/manifest-id', o.manifestId ? { exitCode: 0, stdout: `${o.manifestId}\n` } : { exitCode: 1, stdout: 'cat: /etc/obsbuild/manifest-id: No such file or directory\n' }],
    ['dpkg --audit', { exitCode: 0, stdout: '' }],
    ['hostname', { exitCode: 0, stdout: `${o.hostname}\n` }],
    ['ip -o -4 addr show', { exitCode: 0, stdout: o.ipAddr }],
    ['sysctl net.ipv4.ip_forward', { exitCode: 0, stdout: 'net.ipv4.ip_forward = 1\n' }],
    ['pidof keepalived', { exitCode: 0, stdout: '1234\n' }],
    ['ipvsadm -L -n', { exitCode: 0, stdout: o.ipvsadm }],
  ]);
}

function unquote(word: string): string {
  if (!/^'(?:[^']|'\\'')*'$/.test(word)) throw new Error(`fake box: not a single-quoted word: ${word}`);
  return word.slice(1, -1).replace(/'\\''/g, "'");
}

/** One command of batchScript's output, as its box-side text: the begin marker, the subshell, the end marker. */
const BATCH_COMMAND_RE = /printf '\\n@@b-([0-9a-f]+)-(\d+)@@\\n'; \( ([\s\S]*?) \) <\/dev\/null 2>&1; printf '\\n@@e-\1-\2=%s@@\\n' "\$\?"/g;

export class FakeBox implements BoxShell {
  /** Every command the box ran, a batch's commands one by one. */
  readonly runs: string[] = [];
  /** Every call of run(): a session over SSH, a prompt round trip over serial. */
  readonly sessions: string[] = [];
  writes = 0;
  closed = false;
  /** false: the box's shell cannot run a batch (exit 127 for it), as a shell that is not POSIX sh might. */
  batches = true;
  constructor(
    readonly files: Map<string, Buffer>,
    readonly answers: Map<string, RunResult>,
  ) {}

  async run(command: string): Promise<RunResult> {
    this.sessions.push(command);
    if (command.includes("printf '\\n@@b-")) {
      if (!this.batches) return { exitCode: 127, stdout: 'sh: syntax error\n' };
      return this.runBatch(command);
    }
    return this.one(command);
  }

  private one(command: string): RunResult {
    this.runs.push(command);
    if (command.includes('echo @@obsbuild-files-begin')) return this.readFiles(command);
    if (command.includes('echo @@obsbuild-links-begin')) return this.readLinks(command);
    return this.answers.get(command) ?? { exitCode: 127, stdout: `sh: ${command.split(' ')[0]}: not found\n` };
  }

  /** What the box's shell prints for batchScript: each command between its markers, the exit status in the end one. */
  private runBatch(script: string): RunResult {
    let out = '';
    for (const m of script.matchAll(BATCH_COMMAND_RE)) {
      const r = this.one(m[3]);
      out += `\n@@b-${m[1]}-${m[2]}@@\n${r.stdout}\n@@e-${m[1]}-${m[2]}=${r.exitCode}@@\n`;
    }
    return { exitCode: 0, stdout: out };
  }

  /** Mode and numeric owner of files, by path, for the read's stat (a path without one: stat says nothing). */
  meta = new Map<string, { mode: number; uid: number; gid: number }>();

  /** What the box's shell prints for readFilesScript: a header per path, base64 of at most the cap. */
  private readFiles(script: string): RunResult {
    const out = ['@@obsbuild-files-begin'];
    for (const line of script.split('\n')) {
      const m = /^r (\d+) (.*)$/.exec(line);
      if (!m) continue;
      const bytes = this.files.get(unquote(m[2]));
      if (!bytes) {
        out.push(`@@obsbuild-file ${m[1]} M`);
        continue;
      }
      const sent = Math.min(bytes.length, BOX_FILE_MAX_BYTES);
      // a file sent whole leaves its hash to the reader; a cut one is hashed on the box
      out.push(`@@obsbuild-file ${m[1]} F ${bytes.length} ${sent === bytes.length ? '-' : createHash('sha256').update(bytes).digest('hex')} ${sent}`);
      const b64 = bytes.subarray(0, sent).toString('base64');
      for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
    }
    // the one stat: a line for each path whose mode and owner the test gave
    for (const line of script.split('\n')) {
      if (!line.startsWith('stat -c ')) continue;
      for (const word of line.match(/'(?:[^']|'\\'')*'/g)?.slice(1) ?? []) {
        const path = unquote(word);
        const meta = this.meta.get(path);
        if (meta && this.files.has(path)) out.push(`@@obsbuild-stat ${meta.mode.toString(8)} ${meta.uid} ${meta.gid} ${path}`);
      }
    }
    out.push('@@obsbuild-files-end');
    return { exitCode: 0, stdout: `${out.join('\n')}\n` };
  }

  /** Symlinks on the box, path -> target (a path in `files` reads as a file here). */
  links = new Map<string, string>();

  /** What the box's shell prints for readLinksScript. */
  private readLinks(script: string): RunResult {
    const out = ['@@obsbuild-links-begin'];
    for (const line of script.split('\n')) {
      const m = /^l (\d+) (.*)$/.exec(line);
      if (!m) continue;
      const path = unquote(m[2]);
      const target = this.links.get(path);
      if (target !== undefined) {
        out.push(`@@obsbuild-link ${m[1]} L`);
        const b64 = Buffer.from(`${target}\n`).toString('base64');
        for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
      } else out.push(`@@obsbuild-link ${m[1]} ${this.files.has(path) ? 'O' : 'M'}`);
    }
    out.push('@@obsbuild-links-end');
    return { exitCode: 0, stdout: `${out.join('\n')}\n` };
  }

  async putFile(): Promise<void> {
    this.writes++;
    throw new Error('fake box: verify must not write');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
