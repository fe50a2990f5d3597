import type { Command } from 'commander';
import { Option } from 'commander';
import { createInterface } from 'node:readline/promises';
import { action } from './action.js';
import { addInventoryOptions, inventoryRequested, runInventoryCommand, type InventoryCliOptions } from './inventory-option.js';
import { overBoxShell } from '../daytwo/inventory.js';
import { UsageError } from '../util/errors.js';
import { addBoxTargetOptions, boxTargetFromOptions, type BoxTargetOptions } from './box-target.js';
import { applyToBox, formatApplyResult } from '../daytwo/apply.js';
import { desiredNode } from '../daytwo/desired.js';
import { formatPlan, type Plan } from '../daytwo/plan.js';
import { describeBoxTarget, openBoxShell } from '../daytwo/transport.js';
import { OBSBUILD_VERSION } from '../image/version.js';
import { lintOrThrow } from '../lvs/lint.js';
import { loadSite } from '../site/load.js';
import type { NodeRole } from '../site/model.js';
import { UserError } from '../util/errors.js';
import { checkOutputPath, writeOutputFile } from '../util/output-path.js';

interface ApplyCliOptions extends BoxTargetOptions, Omit<InventoryCliOptions, 'user' | 'password' | 'out' | 'json'> {
  site: string;
  node?: NodeRole;
  out: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: string;
}

const HELP = `
What apply does, in order:
  1. renders the node's files from the site file and reads the box's copies (one command);
  2. prints the plan: each file to create or modify (content, mode or owner) with a unified diff
     (/etc/shadow never shown), how each change is made live, and anything refused; --dry-run stops here;
  3. asks (type yes); --yes skips the question, and is required when standard input is not a terminal;
  4. keeps every file it replaces on the box under /var/lib/obsbuild/previous/<UTC time>/<path>;
  5. writes each changed file next to its target with its owner and mode and renames it into place (sha256
     checked on the box);
  6. activates the changes, in this order:
       /etc/network/interfaces           ifdown/ifup of the changed interfaces only (refused over SSH when
                                         the session's interface changes: use --port, or reinstall)
       /etc/sysctl.conf                  sysctl -p
       /etc/hostname                     hostname -F /etc/hostname
       rsyslog's or sysklogd's file,     a restart through the daemon's init script, which must leave it
       ntp.conf or chrony.conf           running
       /etc/ipvsadm.rules                ipvsadm -C; ipvsadm -R < /etc/ipvsadm.rules; the table must equal the site
       keepalived.conf, notify.sh        SIGHUP to keepalived's parent (1.1.15 reloads in place), then a
                                         bounded wait (at least 30 s) until the IPVS table has exactly the
                                         site's virtual services and schedulers, no real server the site
                                         dropped, every server that was up still listed, and the VRRP
                                         addresses agree (a down real server may be absent)
       hosts, resolv.conf, shadow,       nothing: read when used
       authorized_keys, /etc/default/ipvsadm (read at boot), /etc/timezone and /etc/localtime, and
       the site's own files: and symlinks (obsbuild does not know what reads them; a symlink is made
       beside its path and renamed over it)
  7. verifies the box (as obsbuild verify) and records the applied config in /etc/obsbuild/applied.json.

Rollback: if a write, an activation, the verification or the record fails, the previous files are put
back from /var/lib/obsbuild/previous/<time>/ (files that were new are removed), every activation runs again
(the balancer must come back to the table it had before), verify runs again, and apply says exactly what
happened and exits 1. Nothing is applied by halves: a refused change refuses the whole apply.

An HA pair: apply the backup first (--node backup), verify it, then the master. With --inventory this
order is kept for every pair in the file: a master is touched only after its backup passed.

Exit codes: 0 applied (or nothing to change, or a dry run) and verified; 1 refused, declined, failed
(rolled back) or unreachable; 2 usage error.

Examples:
  obsbuild apply --host root@192.168.253.120 --dry-run
  obsbuild apply --host lb2 --node backup --yes --json apply.json
  obsbuild apply --port /dev/ttyUSB0
  obsbuild apply --inventory boxes.yaml --yes        every box, HA pairs backup first
`;

/** Every box of an inventory (no question per box: --yes or --dry-run is required); pairs backup first. */
function applyInventory(o: ApplyCliOptions): Promise<number> {
  if (!o.yes && !o.dryRun) throw new UsageError('apply --inventory works on many boxes at once and cannot ask for each: pass --yes (or --dry-run)');
  return runInventoryCommand(o, {
    command: 'apply',
    order: 'backup-first',
    job: overBoxShell(async (shell, box, ctx) => {
      const who = describeBoxTarget(box.target);
      const result = await applyToBox(shell, {
        loaded: box.loaded,
        node: box.node,
        transport: box.target.kind,
        target: who,
        dryRun: o.dryRun,
        yes: true,
        confirm: async () => true,
        onPlan: (plan: Plan) => ctx.log(formatPlan(plan, who)),
        log: ctx.log,
        obsbuildVersion: OBSBUILD_VERSION,
      });
      ctx.log(formatApplyResult(result));
      return { passed: result.exitCode === 0, problem: result.exitCode === 0 ? null : result.summary, report: result };
    }),
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('apply')
    .description('make a running box match the site file: plan, ask, write, activate, verify; roll back on failure')
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .addOption(new Option('--node <role>', 'for an HA pair: which node this box is').choices(['master', 'backup']))
    .option('--out <dir>', 'output directory of the build (for the default known_hosts)', 'out')
    .option('--dry-run', 'print the plan and stop; nothing is written')
    .option('--yes', 'do not ask (required when standard input is not a terminal)')
    .option('--json <file>', 'write the plan and what happened as JSON here');
  addInventoryOptions(addBoxTargetOptions(cmd))
    .addHelpText('after', HELP)
    .action(action(async (o: ApplyCliOptions) => (inventoryRequested(cmd, o) ? applyInventory(o) : applyCommand(o))));
}

async function askOnTerminal(): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question('Apply this plan to the box? Type \'yes\' to apply: ')).trim() === 'yes';
  } finally {
    rl.close();
  }
}

async function applyCommand(o: ApplyCliOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`obsbuild: ${line}\n`);
  if (o.json !== undefined) await checkOutputPath(o.json, { argument: '--json', kind: 'file', inputs: [o.site] });
  // Refuse a script without --yes before touching the box.
  if (!o.yes && !o.dryRun && !process.stdin.isTTY) throw new UserError('standard input is not a terminal: pass --yes to apply without asking (or --dry-run); nothing was changed', { code: 'target-refused' });
  const loaded = await loadSite(o.site);
  lintOrThrow(loaded, (line) => process.stderr.write(`${line}\n`));
  const { hostname } = desiredNode(loaded, o.node);
  const target = boxTargetFromOptions(o, { outDir: o.out, hostname });
  const who = describeBoxTarget(target);
  say(`connecting to ${who}`);
  const started = Date.now();
  const shell = await openBoxShell(target, say);
  let result;
  try {
    result = await applyToBox(shell, {
      loaded,
      node: o.node,
      transport: target.kind,
      target: who,
      dryRun: o.dryRun,
      yes: o.yes,
      confirm: askOnTerminal,
      onPlan: (plan: Plan) => process.stdout.write(formatPlan(plan, who)),
      log: say,
      obsbuildVersion: OBSBUILD_VERSION,
    });
  } finally {
    await shell.close();
  }
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (o.json !== undefined) {
    const plan = { ...result.plan, changes: result.plan.changes.map(({ bytes: _bytes, ...c }) => c) };
    await writeOutputFile(o.json, '--json', `${JSON.stringify({ ...result, plan }, null, 2)}\n`);
  }
  process.stdout.write(formatApplyResult(result));
  return result.exitCode;
}
