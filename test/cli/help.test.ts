import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

const commands = ['init', 'render', 'lint', 'realserver', 'inspect', 'image', 'flash', 'console', 'verify', 'apply', 'vm'];

test('obsbuild --help lists every command and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.exitCode, 0);
  for (const c of commands) assert.match(String(r.stdout), new RegExp(`^\\s+${c}\\b`, 'm'));
});

for (const c of commands) {
  test(`obsbuild ${c} --help exits 0 and describes the command`, async () => {
    const r = await runCli([c, '--help']);
    assert.equal(r.exitCode, 0);
    assert.match(String(r.stdout), new RegExp(`Usage: obsbuild ${c}`));
    assert.doesNotMatch(String(r.stdout), /not implemented/);
  });
}

test('an unknown option is a usage error (exit 2)', async () => {
  const r = await runCli(['lint', '--no-such-flag']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /unknown option/);
});

test('a usage error is one line naming the problem and where the options are, not the whole help', async () => {
  const cases: [string[], RegExp][] = [
    [['flash', '--bogus'], /^obsbuild flash: unknown option '--bogus' \(obsbuild flash --help lists the options\)$/],
    [['verify', '--host'], /^obsbuild verify: option '--host <\[user@\]host\[:port\]>' argument missing \(obsbuild verify --help lists the options\)$/],
    [['no-such-command'], /^obsbuild: unknown command 'no-such-command' \(obsbuild --help lists the options\)$/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(args);
    assert.equal(r.exitCode, 2, args.join(' '));
    assert.match(String(r.stderr).trimEnd(), want);
    assert.equal(String(r.stderr).trimEnd().split('\n').length, 1, `one line for ${args.join(' ')}`);
  }
});

test('obsbuild --version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.exitCode, 0);
  assert.match(String(r.stdout), /^\d+\.\d+\.\d+$/);
});

test('output into a pipe whose reader has gone (| head) ends quietly with exit 0, without a stack trace', async () => {
  const { spawn } = await import('node:child_process');
  const { cliPath } = await import('../helpers/cli.js');
  const child = spawn(process.execPath, [cliPath, 'render', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Close the read end at once: node takes far longer to start, so its first write meets EPIPE.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
