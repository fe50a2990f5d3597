import { execa, type Options } from 'execa';
import { fileURLToPath } from 'node:url';

/** Absolute path of the compiled CLI, so tests run exactly what users run. */
export const cliPath = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Repository root (tests run from dist/test/..., the sources live two levels up). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export async function runCli(args: string[], options: Options = {}) {
  return execa(process.execPath, [cliPath, ...args], { reject: false, ...options });
}
