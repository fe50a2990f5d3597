import type { Command } from 'commander';
import { Option } from 'commander';
import { action } from './action.js';
import { loadSite } from '../site/load.js';
import { siteNodes } from '../site/nodes.js';
import type { Dialect, NodeRole } from '../site/model.js';
import { lintOrThrow } from '../lvs/lint.js';
import { renderConfigTree } from '../lvs/render.js';
import { mergeFiles } from '../contracts/generated-file.js';
import { siteFiles } from '../image/site-files.js';
import { TREE_OUTPUT, writeTree } from '../lvs/write-tree.js';
import { checkOutputPath } from '../util/output-path.js';

export function register(program: Command): void {
  program
    .command('render')
    .description('write the generated configuration tree (keepalived.conf, interfaces, sysctl.conf, ...) without building an image')
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .addOption(new Option('--node <role>', 'for an HA pair, render only this node (default: both, each under OUT/<hostname>/)').choices(['master', 'backup']))
    .addOption(new Option('--dialect <name>', 'keepalived.conf dialect: lenny = keepalived 1.1.15 as on the box; modern = keepalived 2.x, for `keepalived -t`').choices(['lenny', 'modern']).default('lenny'))
    .requiredOption('--out <dir>', 'directory to write the tree into (new, empty, or an earlier render output; replaced as a whole)')
    .addHelpText(
      'after',
      '\nFiles, as they sit on the box: /etc/keepalived/keepalived.conf (manager keepalived) and\n' +
        '/etc/keepalived/notify.sh (vrrp.notify), /etc/ipvsadm.rules (manager ipvsadm), /etc/default/ipvsadm,\n' +
        '/etc/network/interfaces, /etc/sysctl.conf, /etc/hostname, /etc/hosts, /etc/resolv.conf, and the site\'s\n' +
        'own files (files:).\n' +
        'The site is linted first; errors stop the render and nothing is written.',
    )
    .action(
      action(async (opts: { site: string; node?: NodeRole; dialect: Dialect; out: string }) => {
        await checkOutputPath(opts.out, TREE_OUTPUT);
        const loaded = await loadSite(opts.site);
        lintOrThrow(loaded, (line) => process.stderr.write(line + '\n'));
        const site = loaded.site;
        // With the site's own files (files:); owners are not resolved here (there is no rootfs), so the tree is the build user's.
        const tree = (node: NodeRole | undefined) => {
          const generated = renderConfigTree(site, { node, dialect: opts.dialect });
          return mergeFiles(siteFiles(loaded, null, generated), generated);
        };
        const trees =
          site.lvs.vrrp && !opts.node
            ? siteNodes(site).map((n) => ({ under: n.hostname, files: tree(n.role as NodeRole) }))
            : [{ under: '.', files: tree(opts.node) }];
        await writeTree(opts.out, trees);
        const count = trees.reduce((n, t) => n + t.files.length, 0);
        process.stdout.write(`wrote ${count} files under ${opts.out} (${opts.dialect} dialect)\n`);
      }),
    );
}
