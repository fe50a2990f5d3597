#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { register as registerInit } from './commands/init.js';
import { register as registerRender } from './commands/render.js';
import { register as registerLint } from './commands/lint.js';
import { register as registerRealserver } from './commands/realserver.js';
import { register as registerInspect } from './commands/inspect.js';
import { register as registerImage } from './commands/image.js';
import { register as registerFlash } from './commands/flash.js';
import { register as registerConsole } from './commands/console.js';
import { register as registerVm } from './commands/vm.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('obsbuild')
  .description('Build OpenBlockS 600 install media for an LVS load balancer and verify the install over the serial console.')
  .addHelpText(
    'after',
    '\nThe usual flow:\n' +
      '  obsbuild init                 write a starter site file (obsbuild.yaml, the guide\'s network)\n' +
      '  obsbuild image --profile lb   build out/<hostname>/: stick/msf/, stick.img, manifest.json\n' +
      '  obsbuild flash /dev/sdX       write stick.img to a USB stick, then read it back and compare\n' +
      '  obsbuild console              follow the install and first boot on the serial line, log in, verify\n' +
      '\nExit codes: 0 success, 1 a problem you can fix (the message names the file), 2 a usage error.',
  )
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride();

for (const register of [
  registerInit,
  registerRender,
  registerLint,
  registerRealserver,
  registerInspect,
  registerImage,
  registerFlash,
  registerConsole,
  registerVm,
]) {
  register(program);
}
for (const cmd of program.commands) cmd.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; every other commander error is a usage error (exit 2).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    throw err;
  }
}
