import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { commitOutputs, discardOutputs, stageOutput } from '../../src/image/output.js';
import { cliPath } from '../helpers/cli.js';
import { imageArgs, makeWorkspace } from './fixtures.js';

test('a failed build removes the out/ folders it made for itself, and keeps an out/ that was there before', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-staging-'));
  try {
    const out = join(dir, 'a', 'out');
    const staged = [await stageOutput(out, 'lb1'), await stageOutput(out, 'lb2')];
    await writeFile(join(staged[0].workDir, 'stick.img'), 'half');
    await discardOutputs(staged);
    assert.deepEqual(await readdir(dir), []);

    // An out/ that was there before stays, with its earlier output.
    const first = await stageOutput(out, 'lb1');
    await writeFile(join(first.workDir, 'manifest.json'), '{"id":"one"}\n');
    await commitOutputs([first]);
    await discardOutputs([await stageOutput(out, 'lb1')]);
    assert.deepEqual(await readdir(out), ['lb1']);
    assert.deepEqual(await readdir(join(out, 'lb1')), ['manifest.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('staging refuses an <out>/<hostname> holding files obsbuild did not write', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-staging-'));
  try {
    await mkdir(join(dir, 'out', 'lb1'), { recursive: true });
    await writeFile(join(dir, 'out', 'lb1', 'notes.txt'), 'mine\n');
    await assert.rejects(stageOutput(join(dir, 'out'), 'lb1'), { name: 'UserError', message: /out\/lb1: directory is not empty and was not written by obsbuild image/ });
    assert.deepEqual(await readdir(join(dir, 'out')), ['lb1']);
    assert.equal(existsSync(join(dir, 'out', 'lb1', 'notes.txt')), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('image interrupted (SIGINT) while building out/<hostname>/ leaves no out/ folder it created', async () => {
  const ws = await makeWorkspace();
  try {
    const child = spawn(process.execPath, [cliPath, ...imageArgs(ws)], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    // Wait for the staged folder (.obs600.tmp-...) to appear, then interrupt as Ctrl-C would.
    const deadline = Date.now() + 60_000;
    while (!(existsSync(ws.out) && (await readdir(ws.out)).some((n) => n.startsWith('.obs600.tmp-')))) {
      assert.ok(Date.now() < deadline && child.exitCode === null, 'the build never staged its output');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const [code, signal] = await exited;
    assert.ok(signal === 'SIGINT' || code !== 0, `interrupted build: exit ${code} signal ${signal}`);
    assert.equal(existsSync(ws.out), false, `out/ left behind: ${existsSync(ws.out) ? (await readdir(ws.out)).join(', ') : ''}`);
  } finally {
    await ws.cleanup();
  }
});
