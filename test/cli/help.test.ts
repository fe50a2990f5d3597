import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

const commands = ['init', 'render', 'lint', 'realserver', 'inspect', 'image', 'flash', 'console', 'vm'];

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

test('obsbuild --version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.exitCode, 0);
  assert.match(String(r.stdout), /^\d+\.\d+\.\d+$/);
});
