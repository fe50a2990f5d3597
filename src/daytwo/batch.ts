/**
 * Several read-only commands in one round trip to the box: each runs in its own subshell with its output and
 * exit status between markers that carry a random token, so nothing a command prints can pass for a marker.
 * Over SSH every session costs the box a fork of sshd (a second or more on an emulated board); over a serial
 * line every command costs a prompt round trip: one batch costs one of each.
 */
import { randomBytes } from 'node:crypto';
import type { BoxShell } from '../remote/box-shell.js';
import type { CommandResult } from '../console/shell.js';
import { UserError } from '../util/errors.js';

/** More than all the checks print together on a healthy box; past it the batch is refused as hostile. */
export const BATCH_OUTPUT_CAP = 4 * 1024 * 1024;

export function batchScript(commands: readonly string[], token: string): string {
  return commands
    .map((c, i) => `printf '\\n@@b-${token}-${i}@@\\n'; ( ${c} ) </dev/null 2>&1; printf '\\n@@e-${token}-${i}=%s@@\\n' "$?"`)
    .join('\n');
}

/** Splits a batch's output; a command whose markers are missing gets exitCode null (did not finish). */
export function parseBatch(commands: readonly string[], token: string, output: string, durationMs: number): Map<string, CommandResult> {
  const results = new Map<string, CommandResult>();
  const text = output.replace(/\r\n/g, '\n');
  let from = 0;
  commands.forEach((command, i) => {
    const begin = `\n@@b-${token}-${i}@@\n`;
    const at = text.indexOf(begin, from);
    // the batch prints a newline before each end marker, so a command's output is kept exactly as printed
    const endRe = new RegExp(`\\n@@e-${token}-${i}=(\\d{1,3})@@\\n`, 'g');
    endRe.lastIndex = at < 0 ? 0 : at + begin.length;
    const end = at < 0 ? null : endRe.exec(text);
    if (at < 0 || !end) {
      results.set(command, { command, exitCode: null, output: '', durationMs });
      return;
    }
    results.set(command, { command, exitCode: Number(end[1]), output: text.slice(at + begin.length, end.index), durationMs });
    from = end.index + end[0].length - 1;
  });
  return results;
}

export interface BatchOptions {
  /** For the whole batch; default two minutes. */
  timeoutMs?: number;
  /** Most the batch may print; default BATCH_OUTPUT_CAP (a caller adding a command that prints more raises it). */
  outputCap?: number;
}

export async function runBatch(shell: BoxShell, commands: readonly string[], who: string, opts: BatchOptions = {}): Promise<Map<string, CommandResult>> {
  const token = randomBytes(6).toString('hex');
  const cap = opts.outputCap ?? BATCH_OUTPUT_CAP;
  const started = Date.now();
  const r = await shell.run(batchScript(commands, token), { timeoutMs: opts.timeoutMs ?? 120_000 });
  if (r.stdout.length > cap) throw new UserError(`${who}: the checks printed more than ${cap} bytes`, { code: 'box-failed' });
  return parseBatch(commands, token, r.stdout, Date.now() - started);
}
