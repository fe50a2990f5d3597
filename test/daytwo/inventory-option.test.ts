/** `--inventory FILE --jobs N` on a command: option clashes, the run end to end with a fake job, the shell wrapper. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { addBoxTargetOptions } from '../../src/commands/box-target.js';
import { addInventoryOptions, inventoryRequested, runInventoryCommand, type InventoryCliOptions, type InventoryJsonSummary } from '../../src/commands/inventory-option.js';
import { overBoxShell, runInventory, type JobOutcome } from '../../src/daytwo/inventory.js';
import type { InventoryBox } from '../../src/daytwo/inventory-file.js';
import type { BoxShell } from '../../src/remote/box-shell.js';
import { UsageError, UserError } from '../../src/util/errors.js';
import { repoRoot } from '../helpers/cli.js';

/** A command shaped like verify/apply: one box's options, --site/--node/--out/--json, plus the inventory options. */
function verifyLike(args: string[]): { cmd: Command; o: InventoryCliOptions } {
  const cmd = new Command('verify').exitOverride();
  addBoxTargetOptions(cmd).option('--site <file>', 'site file', 'obsbuild.yaml').option('--node <role>').option('--out <dir>', 'output', 'out').option('--json <file>');
  addInventoryOptions(cmd);
  cmd.action(() => {});
  cmd.parse(args, { from: 'user' });
  return { cmd, o: cmd.opts<InventoryCliOptions>() };
}

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail('expected a usage error');
}

test('--inventory refuses the options that name one box, and --jobs needs --inventory', () => {
  const requested = (args: string[]) => {
    const { cmd, o } = verifyLike(args);
    return inventoryRequested(cmd, o);
  };
  assert.equal(requested(['--inventory', 'inv.yaml', '--jobs', '8', '--user', 'admin']), true);
  assert.equal(requested(['--host', 'h']), false);
  assert.equal(usage(() => requested(['--inventory', 'inv.yaml', '--host', 'h'])), "--inventory names each box's site, node and transport; drop --host");
  assert.equal(usage(() => requested(['--port', '/dev/ttyS0', '--inventory', 'inv.yaml'])), "--inventory names each box's site, node and transport; drop --port");
  assert.match(usage(() => requested(['--inventory', 'inv.yaml', '--site', 'obsbuild.yaml'])), /drop --site$/);
  assert.match(usage(() => requested(['--inventory', 'inv.yaml', '--baud', '9600'])), /drop --baud$/);
  assert.equal(usage(() => requested(['--host', 'h', '--jobs', '2'])), '--jobs is for --inventory runs');
});

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('an inventory run: progress on stderr, the table on stdout, logs and summary.json under <out>, --json, exit code', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-inventory-cmd-'));
  try {
    await copyFile(join(repoRoot, 'test/fixtures/sites/dr-tcp-pair.yaml'), join(dir, 'pair.yaml'));
    await copyFile(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), join(dir, 'single.yaml'));
    const inv = join(dir, 'inv.yaml');
    await writeFile(
      inv,
      'boxes:\n' +
        '  - { name: lb1, site: pair.yaml, node: master, host: "root@127.0.0.1:2201" }\n' +
        '  - { name: lb2, site: pair.yaml, node: backup, host: "root@127.0.0.1:2202" }\n' +
        '  - { name: solo, site: single.yaml, port: /dev/obsbuild-test-tty }\n',
    );
    const order: string[] = [];
    const job = async (b: InventoryBox): Promise<JobOutcome> => {
      order.push(`${b.name} ${b.hostname}`);
      return b.name === 'solo' ? { passed: false, problem: 'hostname is obs601' } : { passed: true, report: { node: b.node } };
    };
    const stdout = collect();
    const stderr = collect();
    const json = join(dir, 'report.json');
    const { o } = verifyLike(['--inventory', inv, '--jobs', '1', '--out', join(dir, 'out'), '--json', json]);
    const code = await runInventoryCommand(o, { command: 'apply', order: 'backup-first', job, stdout: stdout.stream, stderr: stderr.stream });

    assert.equal(code, 1);
    assert.deepEqual(order, ['lb2 lb2', 'lb1 lb1', 'solo obs600'], 'backup first, then master, with --jobs 1 in inventory order otherwise');
    assert.match(stdout.text(), /^BOX +NODE +TRANSPORT +RESULT +SECONDS +FIRST PROBLEM\nlb1 +master +ssh root@127\.0\.0\.1:2201 +passed .*\nlb2 .*\nsolo +- +serial \/dev\/obsbuild-test-tty +failed +\d+\.\d +hostname is obs601\n3 boxes: 2 passed, 1 failed\n$/);
    const err = stderr.text();
    assert.match(err, /^obsbuild: apply on 3 boxes, 1 at a time; logs in \S+\/out\/inventory-apply-[0-9T-]+Z\n/);
    assert.match(err, /\nobsbuild: solo: failed in \d+\.\d s: hostname is obs601\n/);

    const [logDirName] = await readdir(join(dir, 'out'));
    const logDir = join(dir, 'out', logDirName);
    assert.deepEqual((await readdir(logDir)).sort(), ['lb1.log', 'lb2.log', 'solo.log', 'summary.json']);
    const summary = JSON.parse(await readFile(json, 'utf8')) as InventoryJsonSummary;
    assert.deepEqual(await readFile(join(logDir, 'summary.json'), 'utf8'), await readFile(json, 'utf8'));
    // the times say the backup ended before its master began
    const at = Object.fromEntries(summary.boxes.map((b) => [b.name, b]));
    assert.ok(at.lb2.endedAt! <= at.lb1.startedAt!, `lb2 ended ${at.lb2.endedAt}, lb1 started ${at.lb1.startedAt}`);
    assert.ok(summary.boxes.every((b) => /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(b.startedAt ?? '') && b.endedAt! >= b.startedAt!));
    assert.deepEqual(
      { ...summary, boxes: summary.boxes.map(({ startedAt: _s, endedAt: _e, ...b }) => ({ ...b, seconds: 0 })) },
      {
        command: 'apply',
        inventory: inv,
        jobs: 1,
        order: 'backup-first',
        logDir,
        passed: false,
        boxes: [
          { name: 'lb1', node: 'master', site: join(dir, 'pair.yaml'), transport: 'ssh root@127.0.0.1:2201', result: 'passed', seconds: 0, problem: null, log: join(logDir, 'lb1.log'), report: { node: 'master' } },
          { name: 'lb2', node: 'backup', site: join(dir, 'pair.yaml'), transport: 'ssh root@127.0.0.1:2202', result: 'passed', seconds: 0, problem: null, log: join(logDir, 'lb2.log'), report: { node: 'backup' } },
          { name: 'solo', node: null, site: join(dir, 'single.yaml'), transport: 'serial /dev/obsbuild-test-tty', result: 'failed', seconds: 0, problem: 'hostname is obs601', log: join(logDir, 'solo.log') },
        ],
      },
    );

    // Bad --jobs and a bad inventory stop before any box is touched.
    order.length = 0;
    const bad = verifyLike(['--inventory', inv, '--jobs', '0']).o;
    await assert.rejects(runInventoryCommand(bad, { command: 'verify', order: 'any', job }), /--jobs 0: expected a whole number from 1 to 64/);
    await writeFile(inv, 'boxes:\n  - { name: a, site: pair.yaml, host: h }\n');
    await assert.rejects(runInventoryCommand(verifyLike(['--inventory', inv, '--out', join(dir, 'out')]).o, { command: 'verify', order: 'any', job }), /inv\.yaml:2: box "a": .* is an HA pair/);
    assert.deepEqual(order, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('overBoxShell opens the box\'s shell, runs the work and closes the shell even when the work throws', async () => {
  const closed: string[] = [];
  const open = async (t: InventoryBox['target']): Promise<BoxShell> => ({
    run: async () => ({ exitCode: 0, stdout: t.kind === 'serial' ? t.port : '' }),
    putFile: async () => {},
    close: async () => void closed.push(t.kind === 'serial' ? t.port : ''),
  });
  const job = overBoxShell<InventoryBox>(async (shell, b) => {
    const { stdout } = await shell.run('hostname');
    if (b.name === 'bad') throw new UserError(`${stdout}: drifted`);
    return { passed: true };
  }, open);
  const boxes = ['good', 'bad'].map((name) => ({ name, site: `/s/${name}.yaml`, target: { kind: 'serial', port: `/dev/${name}`, baud: 115200, user: 'root', password: 'x' } }) as InventoryBox);
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-inventory-shell-'));
  try {
    const summary = await runInventory(boxes, job, { jobs: 2, logDir: dir, order: 'any' });
    assert.deepEqual(summary.boxes.map((b) => [b.result, b.problem]), [['passed', null], ['failed', '/dev/bad: drifted']]);
    assert.deepEqual(closed.sort(), ['/dev/bad', '/dev/good']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
