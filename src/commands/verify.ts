import type { Command } from 'commander';
import { Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { action } from './action.js';
import { addInventoryOptions, inventoryRequested, runInventoryCommand, type InventoryCliOptions } from './inventory-option.js';
import { overBoxShell } from '../daytwo/inventory.js';
import { addBoxTargetOptions, boxTargetFromOptions, type BoxTargetOptions } from './box-target.js';
import type { Manifest } from '../contracts/manifest.js';
import { readManifestFile } from '../daytwo/manifest-file.js';
import { describeBoxTarget, openBoxShell, type BoxTarget } from '../daytwo/transport.js';
import { formatVerifyReport, verifyBox, type VerifyReport } from '../daytwo/verify.js';
import { verifyHaPair } from '../daytwo/ha.js';
import { desiredNode } from '../daytwo/desired.js';
import { formatCheckLine } from '../console/report.js';
import { lintOrThrow } from '../lvs/lint.js';
import { loadSite, type LoadedSite } from '../site/load.js';
import { UsageError } from '../util/errors.js';
import type { NodeRole } from '../site/model.js';
import { checkOutputPath, writeOutputFile } from '../util/output-path.js';

interface VerifyCliOptions extends BoxTargetOptions, Omit<InventoryCliOptions, 'user' | 'password' | 'out' | 'json'> {
  site: string;
  node?: NodeRole;
  manifest?: string;
  out: string;
  json?: string;
  peerHost?: string;
}

const HELP = `
What is checked, changing nothing on the box:
  the console's post-boot checks: modules.dep up to date (not rebuilt: verify writes nothing), running
  kernel matches /lib/modules, modprobe ip_vs, /etc/obsbuild/manifest-id equals the manifest's id,
  dpkg --audit empty, hostname, interface addresses, net.ipv4.ip_forward, keepalived running, the IPVS
  table against the site's virtual and real servers; with timezone:, ntp: or syslog: in the site, the zone
  in effect, the NTP daemon running with the site's servers, the syslog daemon forwarding to its log hosts;
  for an HA pair member: whether it holds the floating addresses (virtual server addresses and
  vrrp.inside_address): all of them (active) or none (standby) pass, a part of them fails;
  drift: every file obsbuild owns on this node (keepalived.conf or ipvsadm.rules, interfaces, sysctl.conf,
  hostname, hosts, resolv.conf, authorized_keys, root's password hash in /etc/shadow, the time zone, NTP
  and syslog files, the site's own files:) against what the site file renders: content, mode and owner
  (names by the box's own account files), and where the site's own symlinks point; each differing file is
  shown as a unified diff (/etc/shadow never is);
  files the manifest or the last apply listed that the site no longer renders are named as information;
  applied config: /etc/obsbuild/applied.json (written by obsbuild apply) names the config the site gives.

The box is read in one command for all files; over SSH one connection serves the whole run.
The report goes to standard output, progress to standard error. Exit 0 only when everything matches,
1 when a check fails or the box cannot be reached, 2 for a usage error.

Examples:
  obsbuild verify --host root@192.168.253.120 --site obsbuild.yaml
  obsbuild verify --port /dev/ttyUSB0 --json verify.json
  obsbuild verify --host lb2 --node backup --manifest out/lb2/manifest.json
  obsbuild verify --host lb1 --node master --peer-host lb2     both nodes of a pair, and which holds the addresses
  obsbuild verify --inventory boxes.yaml --jobs 8               every box of an inventory, a table at the end
`;

/** Every box of an inventory, at most --jobs at a time; one log per box, the table at the end. */
function verifyInventory(o: VerifyCliOptions): Promise<number> {
  return runInventoryCommand(o, {
    command: 'verify',
    order: 'any',
    job: overBoxShell(async (shell, box, ctx) => {
      const manifest = await manifestFor(o, box.manifest, box.hostname, ctx.log);
      const report = await verifyBox(shell, { loaded: box.loaded, node: box.node, manifest, log: ctx.log, target: describeBoxTarget(box.target) });
      ctx.log(formatVerifyReport(report));
      const first = report.checks.find((c) => c.status === 'fail');
      return { passed: report.passed, problem: first ? `${first.name}: ${first.evidence}` : null, report };
    }),
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('verify')
    .description('check a running box against the site file and its build manifest, drift included; changes nothing')
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .addOption(new Option('--node <role>', 'for an HA pair: which node this box is').choices(['master', 'backup']))
    .option('--manifest <file>', 'manifest.json of the build the box was installed from (default <out>/<hostname>/manifest.json when present)')
    .option('--out <dir>', 'output directory of the build (for the default manifest and known_hosts)', 'out')
    .option('--json <file>', 'write the report as JSON here')
    .option('--peer-host <[user@]host[:port]>', 'HA pair: verify the other node over SSH too, at the same time, and check that exactly one of the two holds the floating addresses');
  addInventoryOptions(addBoxTargetOptions(cmd))
    .addHelpText('after', HELP)
    .action(action(async (o: VerifyCliOptions) => (inventoryRequested(cmd, o) ? verifyInventory(o) : verifyCommand(o))));
}

/** The manifest named, or the build's default one for `hostname` when it exists, or none. */
async function manifestFor(o: VerifyCliOptions, file: string | undefined, hostname: string, say: (l: string) => void): Promise<Manifest | null> {
  const guess = join(o.out, hostname, 'manifest.json');
  const chosen = file ?? (existsSync(guess) ? guess : undefined);
  if (chosen !== undefined) return readManifestFile(chosen);
  say(`${hostname}: no manifest (use --manifest ${guess}): the manifest id check is skipped`);
  return null;
}

async function verifyOne(loaded: LoadedSite, target: BoxTarget, node: NodeRole | undefined, manifest: Manifest | null, say: (l: string) => void): Promise<VerifyReport> {
  const who = describeBoxTarget(target);
  say(`connecting to ${who}`);
  const shell = await openBoxShell(target, say);
  try {
    return await verifyBox(shell, { loaded, node, manifest, log: say, target: who });
  } finally {
    await shell.close();
  }
}

async function verifyCommand(o: VerifyCliOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`obsbuild: ${line}\n`);
  if (o.json !== undefined) await checkOutputPath(o.json, { argument: '--json', kind: 'file', inputs: [o.site, o.manifest] });
  const loaded = await loadSite(o.site);
  lintOrThrow(loaded, (line) => process.stderr.write(`${line}\n`));
  const { hostname } = desiredNode(loaded, o.node); // refuses a pair without --node before connecting
  const target = boxTargetFromOptions(o, { outDir: o.out, hostname });
  const started = Date.now();

  if (o.peerHost !== undefined) return verifyPair(o, loaded, target, hostname, say, started);

  const manifest = await manifestFor(o, o.manifest, hostname, say);
  const report = await verifyOne(loaded, target, o.node, manifest, say);
  say(`verified in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (o.json !== undefined) await writeOutputFile(o.json, '--json', `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(formatVerifyReport(report));
  return report.passed ? 0 : 1;
}

/** Both nodes of an HA pair at once, then whether exactly one of them holds the floating addresses. */
async function verifyPair(o: VerifyCliOptions, loaded: LoadedSite, target: BoxTarget, hostname: string, say: (l: string) => void, started: number): Promise<number> {
  if (!loaded.site.lvs.vrrp || !o.node) throw new UsageError('--peer-host is for an HA pair: give --node for the --host box, the peer is the other node');
  if (target.kind !== 'ssh') throw new UsageError('--peer-host goes with --host (both nodes over SSH)');
  const peerNode: NodeRole = o.node === 'master' ? 'backup' : 'master';
  const peerHostname = desiredNode(loaded, peerNode).hostname;
  const peerTarget = boxTargetFromOptions({ ...o, port: undefined, host: o.peerHost }, { outDir: o.out, hostname: peerHostname, hostArgument: '--peer-host' });
  if (peerTarget.kind === 'ssh' && peerTarget.target.host === target.target.host && peerTarget.target.port === target.target.port) {
    throw new UsageError(`--peer-host ${o.peerHost} is the --host box itself; give the other node of the pair`);
  }
  const [manifest, peerManifest] = [await manifestFor(o, o.manifest, hostname, say), await manifestFor(o, undefined, peerHostname, say)];
  const settled = await Promise.allSettled([
    verifyOne(loaded, target, o.node, manifest, say),
    verifyOne(loaded, peerTarget, peerNode, peerManifest, say),
  ]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  const reports = settled.map((s) => (s as PromiseFulfilledResult<VerifyReport>).value);
  const pair = verifyHaPair(reports);
  const passed = reports.every((r) => r.passed) && pair.status === 'pass';
  say(`verified both nodes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (o.json !== undefined) await writeOutputFile(o.json, '--json', `${JSON.stringify({ nodes: reports, pair, passed }, null, 2)}\n`);
  process.stdout.write(
    `${reports.map(formatVerifyReport).join('\n')}\nobsbuild: the pair\n${formatCheckLine(pair)}\n` +
      `obsbuild: verify pair: ${passed ? 'PASS' : 'FAIL'}\n`,
  );
  return passed ? 0 : 1;
}
