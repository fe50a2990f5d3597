#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { assetPath } from './util/assets.js';

const pkg = JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string };

// `obsbuild render ... | head`: the reader went away; stop quietly instead of printing a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

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
      '  obsbuild verify --host H      later: check the running box against the site file (drift included)\n' +
      '\nExit codes: 0 success, 1 a problem you can fix (the message names the file), 2 a usage error, 130 stopped by Ctrl-C.',
  )
  .version(pkg.version)
  .configureOutput({ outputError: (message, write) => write(usageLine('obsbuild', message)) })
  .exitOverride();

/** A usage error in one line, with where the options are listed (the whole help would bury the problem). */
function usageLine(command: string, message: string): string {
  return `${command}: ${message.trim().replace(/^error: /, '')} (${command} --help lists the options)\n`;
}

// Each command's module pulls in its own dependencies (serialport, tar-stream, zod...). Loading only the one
// being run keeps start-up short, which matters for `flash` where the CLI's start is part of the wall time.
const COMMANDS = ['init', 'render', 'lint', 'realserver', 'inspect', 'image', 'flash', 'console', 'verify', 'apply', 'vm'] as const;
const invoked = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
const versionOnly = invoked === undefined && process.argv.slice(2).some((arg) => arg === '--version' || arg === '-V');
const toLoad = COMMANDS.find((name) => name === invoked) ? [invoked as string] : versionOnly ? [] : COMMANDS;
for (const name of toLoad) {
  const mod = (await import(`./commands/${name}.js`)) as { register(program: Command): void };
  mod.register(program);
}
for (const cmd of program.commands) {
  cmd.exitOverride();
  cmd.configureOutput({ outputError: (message, write) => write(usageLine(`obsbuild ${cmd.name()}`, message)) });
}

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
