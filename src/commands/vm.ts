import type { Command } from 'commander';
import { action } from './action.js';
import { UserError } from '../util/errors.js';

export function register(program: Command): void {
  program
    .command('vm')
    .description('(not implemented yet)')
    .action(
      action(async () => {
        throw new UserError('vm is not implemented yet');
      }),
    );
}
