import type { Command } from 'commander';
import { Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { action } from './action.js';
import { addBoxTargetOptions, boxTargetFromOptions, type BoxTargetOptions } from './box-target.js';
import type { Manifest } from '../contracts/manifest.js';
import { readManifestFile } from '../daytwo/manifest-file.js';
import { describeBoxTarget, openBoxShell } from '../daytwo/transport.js';
import { formatVerifyReport, verifyBox } from '../daytwo/verify.js';
import { desiredNode } from '../daytwo/desired.js';
import { lintOrThrow } from '../lvs/lint.js';
import { loadSite } from '../site/load.js';
import type { NodeRole } from '../site/model.js';
import { checkOutputPath, writeOutputFile } from '../util/output-path.js';

interface VerifyCliOptions extends BoxTargetOptions {
  site: string;
  node?: NodeRole;
  manifest?: string;
  out: string;
  json?: string;
}

const HELP = `
What is checked, changing nothing on the box:
  the console's post-boot checks: modules.dep up to date (not rebuilt: verify writes nothing), running
  kernel matches /lib/modules, modprobe ip_vs, /etc/obsbuild/manifest-id equals the manifest's id,
  dpkg --audit empty, hostname, interface addresses, net.ipv4.ip_forward, keepalived running, the IPVS
  table against the site's virtual and real servers;
  for an HA pair member: whether it holds the floating addresses (virtual server addresses and
  vrrp.inside_address): all of them (active) or none (standby) pass, a part of them fails;
  drift: every file obsbuild owns on this node (keepalived.conf or ipvsadm.rules, interfaces, sysctl.conf,
  hostname, hosts, resolv.conf, authorized_keys, root's password hash in /etc/shadow) against what the
  site file renders; each differing file is shown as a unified diff (/etc/shadow never is);
  files the manifest or the last apply listed that the site no longer renders are named as information;
  applied config: /etc/obsbuild/applied.json (written by obsbuild apply) names the config the site gives.

The box is read in one command for all files; over SSH one connection serves the whole run.
The report goes to standard output, progress to standard error. Exit 0 only when everything matches,
1 when a check fails or the box cannot be reached, 2 for a usage error.

Examples:
  obsbuild verify --host root@192.168.253.120 --site obsbuild.yaml
  obsbuild verify --port /dev/ttyUSB0 --json verify.json
  obsbuild verify --host lb2 --node backup --manifest out/lb2/manifest.json
`;

export function register(program: Command): void {
  const cmd = program
    .command('verify')
    .description('check a running box against the site file and its build manifest, drift included; changes nothing')
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .addOption(new Option('--node <role>', 'for an HA pair: which node this box is').choices(['master', 'backup']))
    .option('--manifest <file>', 'manifest.json of the build the box was installed from (default <out>/<hostname>/manifest.json when present)')
    .option('--out <dir>', 'output directory of the build (for the default manifest and known_hosts)', 'out')
    .option('--json <file>', 'write the report as JSON here');
  addBoxTargetOptions(cmd)
    .addHelpText('after', HELP)
    .action(action(async (o: VerifyCliOptions) => verifyCommand(o)));
}

async function verifyCommand(o: VerifyCliOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`obsbuild: ${line}\n`);
  if (o.json !== undefined) await checkOutputPath(o.json, { argument: '--json', kind: 'file' });
  const loaded = await loadSite(o.site);
  lintOrThrow(loaded, (line) => process.stderr.write(`${line}\n`));
  const { hostname } = desiredNode(loaded, o.node); // refuses a pair without --node before connecting
  const target = boxTargetFromOptions(o, { outDir: o.out, hostname });

  let manifestFile = o.manifest;
  if (manifestFile === undefined) {
    const guess = join(o.out, hostname, 'manifest.json');
    if (existsSync(guess)) manifestFile = guess;
  }
  let manifest: Manifest | null = null;
  if (manifestFile !== undefined) manifest = await readManifestFile(manifestFile);
  else say(`no manifest (use --manifest ${join(o.out, hostname, 'manifest.json')}): the manifest id check is skipped`);

  const who = describeBoxTarget(target);
  say(`connecting to ${who}`);
  const started = Date.now();
  const shell = await openBoxShell(target, say);
  let report;
  try {
    report = await verifyBox(shell, { loaded, node: o.node, manifest, log: say, target: who });
  } finally {
    await shell.close();
  }
  say(`verified in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (o.json !== undefined) await writeOutputFile(o.json, '--json', `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(formatVerifyReport(report));
  return report.passed ? 0 : 1;
}
