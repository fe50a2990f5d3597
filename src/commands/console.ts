import type { Command } from 'commander';
import { action } from './action.js';
import { UserError } from '../util/errors.js';

export function register(program: Command): void {
  program
    .command('console')
    .description('(not implemented yet)')
    .action(
      action(async () => {
        throw new UserError('console is not implemented yet');
      }),
    );
}
