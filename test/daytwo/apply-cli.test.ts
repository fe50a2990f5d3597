import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

test('obsbuild apply --help explains activation and rollback', async () => {
  const r = await runCli(['apply', '--help']);
  assert.equal(r.exitCode, 0);
  const out = String(r.stdout);
  assert.match(out, /Usage: obsbuild apply/);
  for (const want of [/--dry-run/, /--yes/, /--port/, /--host/, /SIGHUP/, /sysctl -p/, /hostname -F/, /ipvsadm -R/, /Rollback:/, /\/var\/lib\/obsbuild\/previous/]) assert.match(out, want);
});

test('obsbuild apply without --yes refuses when standard input is not a terminal, before reaching the box', async () => {
  const site = join(repoRoot, 'test/fixtures/sites/nat-single.yaml');
  const r = await runCli(['apply', '--site', site, '--host', '127.0.0.1:1'], { stdin: 'ignore' });
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /^obsbuild: standard input is not a terminal: pass --yes to apply without asking \(or --dry-run\); nothing was changed$/m);
  assert.doesNotMatch(String(r.stderr), /connecting/);
});
