import type { Command } from 'commander';
import { lstat } from 'node:fs/promises';
import { action } from './action.js';
import { UserError } from '../util/errors.js';
import { writeOutputFile } from '../util/output-path.js';
import { starterSiteText, STARTER_PROFILES, type StarterProfile } from '../site/starter.js';
import { parseSite } from '../site/load.js';

export function register(program: Command): void {
  program
    .command('init')
    .description("write a commented starter site file: the guide's network (obs600, NAT to three web servers)")
    .option('--profile <name>', `starter profile (${STARTER_PROFILES.join(', ')})`, 'lb')
    .option('--site <file>', 'where to write the site file', 'obsbuild.yaml')
    .option('--force', 'overwrite an existing site file')
    .addHelpText(
      'after',
      '\nThe starter reproduces the guide: eth0 192.168.253.254/24 (client side), virtual address\n' +
        '192.168.253.120 on eth0:120, eth1 172.16.14.120/24, real servers 172.16.14.121-123 port 80, NAT,\n' +
        'HTTP health checks, empty resolv.conf, ip_forward on. It allows the stock root/root password with\n' +
        'a comment saying how to set root.password_hash instead; `obsbuild lint` warns until you do.',
    )
    .action(
      action(async (opts: { profile: string; site: string; force?: boolean }) => {
        if (!(STARTER_PROFILES as readonly string[]).includes(opts.profile)) {
          throw new UserError(`unknown profile "${opts.profile}"; known profiles: ${STARTER_PROFILES.join(', ')}`, { code: 'usage' });
        }
        const exists = await lstat(opts.site).then(
          () => true,
          () => false,
        );
        if (exists && !opts.force) throw new UserError(`${opts.site}: already exists; pass --force to overwrite it`, { code: 'output-refused' });
        const text = starterSiteText(opts.profile as StarterProfile);
        parseSite(text, opts.site); // the starter must always load; a failure here is a bug, not user input
        await writeOutputFile(opts.site, '--site', text);
        process.stdout.write(`wrote ${opts.site}: edit it, then run \`obsbuild lint --site ${opts.site}\`\n`);
      }),
    );
}
