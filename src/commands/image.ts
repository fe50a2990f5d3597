import type { Command } from 'commander';
import { action } from './action.js';
import { UserError } from '../util/errors.js';

export function register(program: Command): void {
  program
    .command('image')
    .description('(not implemented yet)')
    .action(
      action(async () => {
        throw new UserError('image is not implemented yet');
      }),
    );
}
