import type { Command } from 'commander';
import { action } from './action.js';
import { loadSite } from '../site/load.js';
import { formatFinding, hasErrors, lintSite } from '../lvs/lint.js';
import { lintSiteFiles } from '../image/site-files.js';

export function register(program: Command): void {
  program
    .command('lint')
    .description('check the site file: syntax, then LVS topology and keepalived 1.1.15 rules')
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .addHelpText(
      'after',
      '\nPrints one line per finding, `file:line: error|warning: message [rule]`, each saying what to change.\n' +
        'Rules: NAT real servers in a connected subnet, ip_forward for NAT, DR ports and segment, virtual\n' +
        'addresses in the client-side subnet, VRRP ids (1-255), priorities (1-254, distinct), nopreempt only\n' +
        'with state BACKUP, at most 20 virtual addresses, auth_pass at most 8 characters, no duplicate\n' +
        'virtual or real servers, root password set.\n' +
        'Exit codes: 0 no errors (warnings allowed), 1 errors. `render` and `image` run the same checks.',
    )
    .action(
      action(async (opts: { site: string }) => {
        const loaded = await loadSite(opts.site);
        const findings = [...lintSite(loaded), ...lintSiteFiles(loaded)];
        for (const f of findings) process.stdout.write(formatFinding(loaded.file, f) + '\n');
        const errors = findings.filter((f) => f.severity === 'error').length;
        const warnings = findings.length - errors;
        process.stdout.write(`${loaded.file}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`);
        return hasErrors(findings) ? 1 : 0;
      }),
    );
}
