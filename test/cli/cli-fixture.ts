import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

type CliResult = Awaited<ReturnType<typeof runCli>>;

/** A temporary folder holding a site file that lints without warnings, so stderr holds only the error. */
export async function siteDir(prefix: string): Promise<{ dir: string; site: string }> {
  const dir = await mkdtemp(join(tmpdir(), `obsbuild-${prefix}-`));
  const site = join(dir, 'site.yaml');
  assert.equal((await runCli(['init', '--site', site])).exitCode, 0);
  const text = (await readFile(site, 'utf8'))
    .replace('password_hash: null', "password_hash: '$1$abcdefgh$0123456789abcdefghijkl'")
    .replace('allow_default_password: true', 'allow_default_password: false');
  await writeFile(site, text);
  return { dir, site };
}

/** The error shape every bad input must have: the exit code, one line on stderr, no stack trace. */
export function assertOneLine(r: CliResult, exitCode: number, mentions: string | RegExp): void {
  const stderr = String(r.stderr);
  assert.ok(!r.timedOut, `timed out; stderr: ${stderr.slice(0, 500)}`);
  assert.equal(r.exitCode, exitCode, stderr.slice(0, 2000));
  assert.doesNotMatch(stderr, /internal error|\n\s+at /);
  assert.equal(stderr.trimEnd().split('\n').length, 1, `one line expected, got:\n${stderr.slice(0, 2000)}`);
  if (typeof mentions === 'string') assert.ok(stderr.includes(mentions), `"${mentions}" not in: ${stderr}`);
  else assert.match(stderr, mentions);
}
