/**
 * The installable package: `npm pack`, installed into an empty prefix, must give a working `obsbuild` with
 * the assets it needs (board facts, box-side templates) and nothing it does not (tests, benchmarks, sources).
 * The package is packed from the dist/ the test command built (--ignore-scripts: no second build).
 * Dependencies come from npm's cache where `npm ci` left them (--prefer-offline), else from the registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../helpers/cli.js';
import { imageArgs, makeWorkspace } from '../image/fixtures.js';

test('npm pack installs into an empty prefix as a working obsbuild with only what it needs', { timeout: 600_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-pack-e2e-'));
  try {
    const packed = await execa('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: repoRoot, env: { npm_config_loglevel: 'error' } });
    const [info] = JSON.parse(String(packed.stdout)) as { filename: string; files: { path: string }[] }[];
    const files = info.files.map((f) => f.path);
    // what it needs
    for (const need of ['dist/src/cli.js', 'dist/src/box/msf_init.sh.tmpl', 'dist/src/box/obsbuild-firstboot.tmpl', 'board/obs600/board.json', 'board/vobs/board.json', 'package.json', 'README.md', 'CHANGELOG.md']) {
      assert.ok(files.includes(need), `the package lacks ${need}`);
    }
    // and nothing it does not: tests, benchmarks, TypeScript sources, CI files
    const unwanted = files.filter((f) => /^(dist\/)?(test|scripts\/bench|scripts\/fuzz|\.ci)\b|^src\/|\.ts$|^dist\/scripts\//.test(f) && !f.endsWith('.d.ts'));
    assert.deepEqual(unwanted, [], 'files in the package that a user does not need');

    const prefix = join(work, 'prefix');
    const installed = await execa(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)],
      { reject: false, env: { npm_config_loglevel: 'error' } },
    );
    assert.equal(installed.exitCode, 0, `npm install of the package: ${installed.stderr}`);
    assert.doesNotMatch(String(installed.stderr), /install-scripts|allowScripts/i, 'npm warns about install scripts');
    const obsbuild = join(prefix, 'bin', 'obsbuild');
    const run = (args: string[], cwd = work) => execa(obsbuild, args, { cwd, reject: false });

    const help = await run(['--help']);
    assert.equal(help.exitCode, 0, String(help.stderr));
    for (const cmd of ['image', 'flash', 'console', 'render', 'lint', 'init', 'inspect']) assert.match(String(help.stdout), new RegExp(`\\b${cmd}\\b`));

    const init = await run(['init', '--site', join(work, 'obsbuild.yaml')]);
    assert.equal(init.exitCode, 0, String(init.stderr));
    const lint = await run(['lint', '--site', join(work, 'obsbuild.yaml')]);
    assert.notEqual(lint.exitCode, 2, String(lint.stderr));
    const render = await run(['render', '--site', join(work, 'obsbuild.yaml'), '--out', join(work, 'tree')]);
    assert.equal(render.exitCode, 0, String(render.stderr));
    assert.match(await readFile(join(work, 'tree', 'etc/keepalived/keepalived.conf'), 'utf8'), /virtual_server/);

    const ws = await makeWorkspace();
    try {
      const inspect = await run(['inspect', '--inputs', ws.inputs]);
      assert.equal(inspect.exitCode, 0, String(inspect.stderr));
      const image = await run(imageArgs(ws));
      assert.equal(image.exitCode, 0, String(image.stderr));
      const manifest = JSON.parse(await readFile(join(ws.out, 'manifest.json'), 'utf8').catch(async () => {
        const { readdir } = await import('node:fs/promises');
        const [host] = await readdir(ws.out);
        return readFile(join(ws.out, host, 'manifest.json'), 'utf8');
      })) as { id: string };
      assert.match(manifest.id, /^[0-9a-f]{16}$/);
    } finally {
      await ws.cleanup();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
