/**
 * `--inventory FILE --jobs N` for a day-two command: the command's per-box job run on every box of an
 * inventory file, with a progress line per box on stderr, the summary table on stdout, one log per box
 * under <out>/inventory-<command>-<time>/ (with summary.json), and the same summary in --json.
 *
 * A command wires it in with addInventoryOptions(cmd) next to addBoxTargetOptions(cmd), and first thing in
 * its action: `if (inventoryRequested(cmd, o)) return runInventoryCommand(o, { command, order, job })`, where
 * job is overBoxShell((shell, box, ctx) => ...) doing what the command does for one box.
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { loadInventory, type InventoryBox } from '../daytwo/inventory-file.js';
import { DEFAULT_LOGIN_USER } from '../daytwo/target-rules.js';
import { formatInventorySummary, inventoryExitCode, runInventory, type InventoryJob, type InventoryOrder, type InventorySummary } from '../daytwo/inventory.js';
import { writeFileAtomically } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { checkOutputParent, checkOutputPath, writeOutputFile } from '../util/output-path.js';

export const DEFAULT_JOBS = 4;
/** Each job holds an ssh connection or a serial port; more at once than this is a mistake, not a fleet. */
export const MAX_JOBS = 64;

export interface InventoryCliOptions {
  inventory?: string;
  jobs: string;
  /** The command's --out: where the console recorded host keys, and where the logs go. */
  out?: string;
  json?: string;
  /** Serial login for serial boxes (the shared box options' --user and --password). */
  user?: string;
  password?: string;
}

/** Options that name one box: the inventory names each box's instead, so they are refused with it. */
const ONE_BOX_OPTIONS = ['port', 'host', 'site', 'node', 'baud', 'identity', 'knownHosts', 'acceptNewHostKey', 'manifest'] as const;

export function addInventoryOptions(cmd: Command): Command {
  return cmd
    .option('--inventory <file>', 'run on every box of this inventory file (YAML: per box name, site, node, and host or port)')
    .option('--jobs <n>', `with --inventory: how many boxes are worked on at once (1 to ${MAX_JOBS})`, String(DEFAULT_JOBS));
}

export function parseJobs(text: string): number {
  if (!/^[0-9]{1,3}$/.test(text) || Number(text) < 1 || Number(text) > MAX_JOBS) throw new UsageError(`--jobs ${text}: expected a whole number from 1 to ${MAX_JOBS}`);
  return Number(text);
}

function given(cmd: Command, key: string): boolean {
  const source = cmd.getOptionValueSource(key);
  return source !== undefined && source !== 'default';
}

/**
 * Whether this run is an inventory run; refuses mixing it with one box's options, and --jobs without it.
 * Call it first in the command's action: true means hand over to runInventoryCommand.
 */
export function inventoryRequested(cmd: Command, o: InventoryCliOptions): boolean {
  if (o.inventory === undefined) {
    if (given(cmd, 'jobs')) throw new UsageError('--jobs is for --inventory runs');
    return false;
  }
  const clash = cmd.options.find((opt) => (ONE_BOX_OPTIONS as readonly string[]).includes(opt.attributeName()) && given(cmd, opt.attributeName()));
  if (clash) throw new UsageError(`--inventory names each box's site, node and transport; drop ${clash.long}`);
  return true;
}

export interface InventoryRun {
  /** The command's name, for the log folder and the JSON summary: verify, apply. */
  command: string;
  /** apply: 'backup-first' (an HA pair's backup, then its master only if the backup passed); verify: 'any'. */
  order: InventoryOrder;
  job: InventoryJob<InventoryBox>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export interface InventoryJsonSummary extends InventorySummary {
  command: string;
  inventory: string;
  jobs: number;
  order: InventoryOrder;
  logDir: string;
}

/** Runs the job on every box of --inventory; returns the exit code (0 only when every box passed). */
export async function runInventoryCommand(o: InventoryCliOptions, run: InventoryRun): Promise<number> {
  const stdout = run.stdout ?? process.stdout;
  const stderr = run.stderr ?? process.stderr;
  const jobs = parseJobs(o.jobs);
  const outDir = o.out ?? 'out';
  if (o.inventory === '') throw new UsageError("--inventory '': an empty path; name the inventory file");
  await checkOutputParent(outDir, '--out');
  if (o.json !== undefined) await checkOutputPath(o.json, { argument: '--json', kind: 'file', inputs: [o.inventory] });
  const inventory = await loadInventory(o.inventory!, { outDir, serialUser: o.user ?? DEFAULT_LOGIN_USER, serialPassword: o.password });

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = resolve(join(outDir, `inventory-${run.command}-${stamp}`));
  await checkOutputPath(logDir, { argument: 'log', kind: 'dir' });
  stderr.write(`obsbuild: ${run.command} on ${inventory.boxes.length} box${inventory.boxes.length === 1 ? '' : 'es'}, ${jobs} at a time; logs in ${logDir}\n`);

  const summary = await runInventory(inventory.boxes, run.job, { jobs, logDir, order: run.order, onProgress: (line) => stderr.write(`obsbuild: ${line}\n`) });
  const json: InventoryJsonSummary = { command: run.command, inventory: resolve(inventory.file), jobs, order: run.order, logDir, ...summary };
  const text = `${JSON.stringify(json, null, 2)}\n`;
  await writeFileAtomically(join(logDir, 'summary.json'), text);
  if (o.json !== undefined) await writeOutputFile(o.json, '--json', text);
  stdout.write(formatInventorySummary(summary));
  return inventoryExitCode(summary);
}
