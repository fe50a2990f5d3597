import type { Command } from 'commander';
import { action } from './action.js';
import { loadSite } from '../site/load.js';
import { lintOrThrow } from '../lvs/lint.js';
import { realServerBundles } from '../lvs/realserver.js';
import { TREE_OUTPUT, writeTree } from '../lvs/write-tree.js';
import { checkOutputPath } from '../util/output-path.js';

export function register(program: Command): void {
  program
    .command('realserver')
    .description('write the settings each real server needs (NAT gateway, or DR virtual address on lo:0 and ARP sysctls)')
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .requiredOption('--out <dir>', 'directory to write into: one folder per real server address (replaced as a whole)')
    .addHelpText(
      'after',
      '\nPer real server, OUT/<address>/ holds a README saying what to do, and the snippets it refers to:\n' +
        '  NAT: nat-gateway.interfaces (default gateway = the director\'s inside address)\n' +
        '  DR:  lo-vip.interfaces (virtual address on lo:0 as /32), arp.sysctl.conf (arp_ignore=1,\n' +
        '       arp_announce=2), or iptables-redirect.sh (the REDIRECT alternative)\n' +
        '  TUN: ipip-tunl0.interfaces, arp.sysctl.conf\n' +
        'The site is linted first; errors stop it and nothing is written.',
    )
    .action(
      action(async (opts: { site: string; out: string }) => {
        await checkOutputPath(opts.out, TREE_OUTPUT);
        const loaded = await loadSite(opts.site);
        lintOrThrow(loaded, (line) => process.stderr.write(line + '\n'));
        const bundles = realServerBundles(loaded.site);
        await writeTree(opts.out, bundles.map((b) => ({ under: b.address, files: b.files })));
        process.stdout.write(`wrote settings for ${bundles.length} real server${bundles.length === 1 ? '' : 's'} under ${opts.out}\n`);
      }),
    );
}
