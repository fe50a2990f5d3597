/** The many-boxes runner: bounded concurrency, isolation of failures, logs, summary, exit code, HA order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatInventorySummary, inventoryExitCode, MAX_BOX_LOG_BYTES, runInventory, type InventoryJob, type RunnableBox } from '../../src/daytwo/inventory.js';
import { UserError } from '../../src/util/errors.js';

function box(name: string, extra: Partial<RunnableBox> = {}): RunnableBox {
  return { name, site: `/sites/${name}.yaml`, target: { kind: 'serial', port: `/dev/tty-${name}`, baud: 115200, user: 'root', password: 'x' }, ...extra };
}

function pairOf(site: string, master: string, backup: string): RunnableBox[] {
  return [box(master, { site, node: 'master' }), box(backup, { site, node: 'backup' })];
}

async function withLogDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-inventory-run-'));
  try {
    return await fn(join(dir, 'logs'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A job that counts how many run at once; each holds its slot for `ms`. */
function countingJob(ms: number) {
  const seen = { now: 0, max: 0, started: [] as string[] };
  const job: InventoryJob = async (b) => {
    seen.started.push(b.name);
    seen.now++;
    seen.max = Math.max(seen.max, seen.now);
    await sleep(ms);
    seen.now--;
    return { passed: true };
  };
  return { seen, job };
}

test('at most --jobs boxes run at once, and that many do run together', async () => {
  await withLogDir(async (logDir) => {
    const boxes = Array.from({ length: 10 }, (_, i) => box(`b${i}`));
    for (const jobs of [1, 3, 4, 16]) {
      const { seen, job } = countingJob(15);
      const summary = await runInventory(boxes, job, { jobs, logDir, order: 'any' });
      assert.equal(seen.max, Math.min(jobs, boxes.length), `--jobs ${jobs}`);
      assert.deepEqual([...seen.started].sort(), boxes.map((b) => b.name).sort(), 'every box ran once');
      assert.equal(summary.passed, true);
    }
  });
});

test('a box that fails, throws a UserError or hits a bug does not stop the others; the exit code says so', async () => {
  await withLogDir(async (logDir) => {
    const ran: string[] = [];
    const job: InventoryJob = async (b) => {
      ran.push(b.name);
      await sleep(5);
      if (b.name === 'fails') return { passed: false, problem: 'keepalived not running', report: { checks: 3 } };
      if (b.name === 'refuses') throw new UserError('ssh root@192.0.2.7: Connection refused');
      if (b.name === 'bug') throw new TypeError("Cannot read properties of undefined (reading 'x')");
      return { passed: true, report: { checks: 12 } };
    };
    const boxes = ['ok1', 'fails', 'refuses', 'bug', 'ok2'].map((n) => box(n));
    const summary = await runInventory(boxes, job, { jobs: 2, logDir, order: 'any' });
    assert.deepEqual([...ran].sort(), ['bug', 'fails', 'ok1', 'ok2', 'refuses']);
    assert.deepEqual(
      summary.boxes.map((b) => [b.name, b.result, b.problem]),
      [
        ['ok1', 'passed', null],
        ['fails', 'failed', 'keepalived not running'],
        ['refuses', 'failed', 'ssh root@192.0.2.7: Connection refused'],
        ['bug', 'error', "internal error: Cannot read properties of undefined (reading 'x')"],
        ['ok2', 'passed', null],
      ],
    );
    assert.equal(summary.passed, false);
    assert.equal(inventoryExitCode(summary), 70, 'a bug in a job is exit 70, as for one box');
    assert.deepEqual(summary.boxes[0].report, { checks: 12 });
    assert.deepEqual(summary.boxes[1].report, { checks: 3 });
    const withoutBug = await runInventory(boxes.filter((b) => b.name !== 'bug'), job, { jobs: 2, logDir, order: 'any' });
    assert.equal(inventoryExitCode(withoutBug), 1);
    const allPass = await runInventory(boxes.filter((b) => b.name.startsWith('ok')), job, { jobs: 2, logDir, order: 'any' });
    assert.equal(inventoryExitCode(allPass), 0);
  });
});

test('the summary: one row per box in inventory order, node, transport, result, seconds, first problem; a log per box', async () => {
  await withLogDir(async (logDir) => {
    const job: InventoryJob = async (b, ctx) => {
      ctx.log(`checking ${b.name}\nsecond line with an escape \x1b[2J`);
      await sleep(b.name === 'slow' ? 250 : 1);
      return b.name === 'slow' ? { passed: false, problem: `drift:\n/etc/keepalived/keepalived.conf ${'x'.repeat(200)}` } : { passed: true };
    };
    const boxes = [box('slow'), ...pairOf('/sites/pair.yaml', 'lb1', 'lb2')];
    boxes[1].target = { kind: 'ssh', target: { user: 'root', host: '192.0.2.10', port: 2222 }, knownHostsFile: '/k', acceptNewHostKey: false };
    const progress: string[] = [];
    const summary = await runInventory(boxes, job, { jobs: 3, logDir, order: 'any', onProgress: (l) => progress.push(l) });
    const [slow, lb1, lb2] = summary.boxes;
    assert.deepEqual([slow.name, slow.node, slow.transport, slow.result], ['slow', null, 'serial /dev/tty-slow', 'failed']);
    assert.deepEqual([lb1.name, lb1.node, lb1.transport, lb1.result], ['lb1', 'master', 'ssh root@192.0.2.10:2222', 'passed']);
    assert.deepEqual([lb2.node, lb2.site], ['backup', '/sites/pair.yaml']);
    assert.ok(slow.seconds >= 0.2 && slow.seconds < 5, `seconds ${slow.seconds}`);
    assert.ok(lb1.seconds < 0.2, `seconds ${lb1.seconds}`);
    assert.match(slow.problem!, /^drift:\\n\/etc\/keepalived\/keepalived\.conf x+$/, 'one line');

    const table = formatInventorySummary(summary).split('\n');
    assert.match(table[0], /^BOX +NODE +TRANSPORT +RESULT +SECONDS +FIRST PROBLEM$/);
    assert.match(table[1], /^slow +- +serial \/dev\/tty-slow +failed +0\.\d +drift:\\n\/etc\/keepalived\/keepalived\.conf x+\.\.\.$/);
    assert.ok(table[1].length < 200, 'the table cuts long problems');
    assert.match(table[2], /^lb1 +master +ssh root@192\.0\.2\.10:2222 +passed +0\.\d +-$/);
    assert.match(table[3], /^lb2 +backup +serial \/dev\/tty-lb2 +passed +0\.\d +-$/);
    assert.equal(table[4], '3 boxes: 2 passed, 1 failed');
    assert.ok(table[1].indexOf('failed') === table[2].indexOf('passed'), 'columns line up');

    assert.deepEqual((await readdir(logDir)).sort(), ['lb1.log', 'lb2.log', 'slow.log'], 'no .partial left');
    const log = await readFile(join(logDir, 'slow.log'), 'utf8');
    assert.match(log, /^\S+Z box slow: serial \/dev\/tty-slow, site \/sites\/slow\.yaml\n/);
    assert.match(log, /\n\S+Z checking slow\n\S+Z second line with an escape \\x1b\[2J\n/);
    assert.match(log, /\n\S+Z result: failed in 0\.\d s: drift:\\n/);
    assert.equal(slow.log, join(logDir, 'slow.log'));
    assert.ok(progress.includes('slow: started (serial /dev/tty-slow)'));
    assert.ok(progress.some((l) => /^slow: failed in 0\.\d s: drift/.test(l)));
  });
});

test('apply order: an HA pair\'s backup runs first, its master only after the backup passed; other boxes are not held up', async () => {
  await withLogDir(async (logDir) => {
    const events: string[] = [];
    const job: InventoryJob = async (b) => {
      events.push(`start ${b.name}`);
      await sleep(b.name === 'single' ? 5 : 40);
      events.push(`end ${b.name}`);
      return { passed: true };
    };
    // The master is listed first on purpose.
    const boxes = [...pairOf('/sites/pair.yaml', 'm', 'b'), box('single'), ...pairOf('/sites/other.yaml', 'm2', 'b2')];
    const summary = await runInventory(boxes, job, { jobs: 4, logDir, order: 'backup-first' });
    assert.equal(summary.passed, true);
    for (const [m, b] of [['m', 'b'], ['m2', 'b2']]) {
      assert.ok(events.indexOf(`end ${b}`) < events.indexOf(`start ${m}`), `${b} ends before ${m} starts: ${events.join(', ')}`);
    }
    assert.ok(events.indexOf('start single') < events.indexOf('end b'), `single does not wait: ${events.join(', ')}`);
    assert.ok(events.indexOf('start b2') < events.indexOf('end b'), `pairs run in parallel: ${events.join(', ')}`);

    // verify has no order: both nodes of a pair run together.
    events.length = 0;
    await runInventory(boxes, job, { jobs: 4, logDir, order: 'any' });
    assert.ok(events.indexOf('start m') < events.indexOf('end b'), `any order: ${events.join(', ')}`);
  });
});

test('apply order: when the backup fails or throws, the master is not touched and is reported as skipped', async () => {
  await withLogDir(async (logDir) => {
    for (const how of ['fails', 'throws'] as const) {
      const ran: string[] = [];
      const job: InventoryJob = async (b) => {
        ran.push(b.name);
        if (b.name === 'b') {
          if (how === 'throws') throw new UserError('verification failed; rolled back');
          return { passed: false, problem: 'rolled back' };
        }
        return { passed: true };
      };
      const boxes = [...pairOf('/sites/pair.yaml', 'm', 'b'), box('single')];
      const summary = await runInventory(boxes, job, { jobs: 1, logDir, order: 'backup-first' });
      assert.deepEqual(ran.sort(), ['b', 'single'], how);
      const m = summary.boxes[0];
      assert.deepEqual([m.name, m.result, m.seconds], ['m', 'skipped', 0]);
      assert.equal(m.problem, "not touched: the pair's backup b goes first and did not pass (failed)");
      assert.equal(inventoryExitCode(summary), 1);
      assert.match(formatInventorySummary(summary), /\n3 boxes: 1 passed, 1 failed, 1 skipped\n$/);
      assert.match(await readFile(join(logDir, 'm.log'), 'utf8'), /box m: not touched/);
    }
  });
});

test('a master whose backup is not in the inventory runs on its own', async () => {
  await withLogDir(async (logDir) => {
    const { seen, job } = countingJob(1);
    const summary = await runInventory([box('m', { site: '/sites/pair.yaml', node: 'master' })], job, { jobs: 2, logDir, order: 'backup-first' });
    assert.deepEqual(seen.started, ['m']);
    assert.equal(summary.passed, true);
  });
});

test('a box log is cut at its cap with a note; the box\'s result stands', async () => {
  await withLogDir(async (logDir) => {
    const chunk = 'y'.repeat(1 << 20);
    const job: InventoryJob = async (_b, ctx) => {
      for (let i = 0; i < (MAX_BOX_LOG_BYTES >> 20) + 4; i++) ctx.log(chunk);
      return { passed: true };
    };
    const [r] = (await runInventory([box('chatty')], job, { jobs: 1, logDir, order: 'any' })).boxes;
    assert.equal(r.result, 'passed');
    const size = (await stat(join(logDir, 'chatty.log'))).size;
    assert.ok(size <= MAX_BOX_LOG_BYTES + 300, `log is ${size} bytes`);
    const fh = await open(join(logDir, 'chatty.log'));
    try {
      const tail = Buffer.alloc(200);
      const { bytesRead } = await fh.read(tail, 0, 200, size - 200);
      assert.match(tail.toString('utf8', 0, bytesRead), /\[log cut at 64 MiB\]\n\S+Z result: passed in \d+\.\d s\n$/);
    } finally {
      await fh.close();
    }
  });
});
