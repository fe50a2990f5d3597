import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, goodBox, makeBoxRoot, sleep } from './simulator.js';
import { runAgainst, TEST_BUDGETS } from './harness.js';
import type { FailureClass } from '../../src/console/faults.js';

async function expectFault(
  fault: FailureClass,
  scenario: Parameters<typeof runAgainst>[1],
  opts: Parameters<typeof runAgainst>[2] = {},
  within = 8000,
) {
  const sim = await Sim.start();
  try {
    const started = Date.now();
    const r = await runAgainst(sim, scenario, opts);
    assert.equal(r.report.ok, false);
    assert.equal(r.report.failure?.class, fault, JSON.stringify(r.report.failure));
    assert.ok(Date.now() - started < within, `verdict took ${Date.now() - started} ms`);
    return r;
  } finally {
    await sim.stop();
  }
}

test('silence: no bytes at all is "no-data", with the cable/port/power advice', async () => {
  const { report } = await expectFault('no-data', async () => {}, { budgets: { ...TEST_BUDGETS, waiting: 1000 } });
  assert.match(report.failure!.message, /no bytes at all in 1 s: check the cable/);
  assert.equal(report.failure!.phase, 'waiting');
});

test('garbage bytes (a wrong baud rate) are "wrong-baud", not a timeout', async () => {
  // what 115200 8N1 text looks like when read at the wrong rate: framing junk, NULs, high-bit bytes
  const junk = Buffer.alloc(600);
  let x = 12345;
  for (let i = 0; i < junk.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    junk[i] = [0x00, 0x80, 0xf8, 0xfe, 0xe0, 0x1c, 0x9c, 0x66][x % 8] | (x >> 16) % 3;
  }
  const { report } = await expectFault('wrong-baud', async ({ board }) => {
    for (let i = 0; i < junk.length; i += 100) {
      board.write(junk.subarray(i, i + 100));
      await sleep(20);
    }
  });
  assert.match(report.failure!.message, /baud rate is probably wrong.*--baud 9600/);
});

test('a kernel panic during boot is "kernel-panic" and the report keeps the last lines', async () => {
  const { report } = await expectFault('kernel-panic', async ({ board }) => {
    await board.boot();
    await board.say(['VFS: Cannot open root device "sda1" or unknown-block(0,0)', 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)']);
  });
  assert.match(report.failure!.message, /Kernel panic - not syncing: VFS/);
  assert.ok(report.failure!.lastLines.some((l) => l.includes('Cannot open root device')));
});

test('an Oops during first boot is "kernel-panic" too', async () => {
  await expectFault('kernel-panic', async ({ board }) => {
    await board.boot();
    await board.say(['obsbuild-firstboot: [1/7] mounting filesystems', 'Oops: kernel access of bad area, sig: 11 [#1]']);
  });
});

test('banner after banner without progress is a "reboot-loop"', async () => {
  const { report } = await expectFault('reboot-loop', async ({ board }) => {
    for (let i = 0; i < 3; i++) {
      await board.boot();
      await board.say(['Machine check in kernel mode.', 'Rebooting in 1 seconds..']);
    }
  });
  assert.match(report.failure!.message, /booted 3 times/);
});

test('a boot banner in the middle of the install is an "unexpected-reboot"', async () => {
  await expectFault('unexpected-reboot', async ({ board }) => {
    await board.boot();
    await board.say(['obsbuild-install: [1/8] checking files', 'obsbuild-install: [2/8] partitioning CF']);
    await board.boot();
  });
});

test('an installer step that prints nothing within its budget is "stalled", naming the step', async () => {
  const { report } = await expectFault(
    'stalled',
    async ({ board }) => {
      await board.boot();
      await board.installer(8, { stallAt: 4 });
      await board.say(['tar: still going...']); // chatter is not progress
    },
    { budgets: { ...TEST_BUDGETS, installerStep: 1000 } },
  );
  assert.match(report.failure!.message, /installer step \[4\/8\] extracting rootfs printed no progress for 1 s/);
  const step = report.steps.find((s) => s.n === 4)!;
  assert.equal(step.outcome, 'failed');
});

test('an installer FAILED line is "installer-failed" with its reason', async () => {
  const { report } = await expectFault('installer-failed', async ({ board }) => {
    await board.boot();
    await board.installer(8, { failAt: 4 });
  });
  assert.match(report.failure!.message, /\[4\/8\] extracting rootfs failed: tar: short read/);
});

test('a first-boot FAILED line is "firstboot-failed"', async () => {
  const { report } = await expectFault('firstboot-failed', async ({ board }) => {
    await board.boot();
    await board.firstboot('m-x', { failAt: 2 });
  });
  assert.match(report.failure!.message, /\[2\/7\] depmod -a failed: exit status 1/);
});

test('a wrong password is "login-refused"', async () => {
  const sim = await Sim.start();
  try {
    const root = await makeBoxRoot(sim.dir, goodBox());
    const { report } = await runAgainst(sim, async ({ board }) => {
      await board.boot();
      await board.login({ hostname: 'obs600', password: 'secret', root });
    });
    assert.equal(report.failure?.class, 'login-refused', JSON.stringify(report.failure));
    assert.match(report.failure!.message, /--password or OBSBUILD_ROOT_PASSWORD/);
  } finally {
    await sim.stop();
  }
});

test('nobody power-cycles the box after the install: a "timeout" in install-done that says what to do', async () => {
  const { report } = await expectFault(
    'timeout',
    async ({ board }) => {
      await board.boot();
      await board.installer(3);
    },
    { budgets: { ...TEST_BUDGETS, installDone: 800 } },
  );
  assert.equal(report.failure!.phase, 'install-done');
  assert.match(report.failure!.message, /remove the stick, power on/);
});

test('the adapter pulled for good mid-install is "port-lost" within ~2 s, naming the port', async () => {
  const sim = await Sim.start();
  try {
    let killedAt = 0;
    const { report } = await runAgainst(
      sim,
      async ({ board, pair }) => {
        await board.boot();
        await board.say(['obsbuild-install: [1/8] checking files']);
        await sleep(200);
        killedAt = Date.now();
        await pair.stop(); // the other end of the pty goes away for good
      },
      { budgets: { ...TEST_BUDGETS, installerStep: 8000, reconnect: 1000 } },
    );
    const took = Date.now() - killedAt;
    assert.equal(report.failure?.class, 'port-lost', JSON.stringify(report.failure));
    assert.ok(took < 3000, `verdict ${took} ms after the port went away`); // ~1.0 s when the machine is idle
    assert.ok(report.failure!.message.includes(sim.consolePath), report.failure!.message);
    assert.match(report.failure!.message, /did not come back within 1\.0 s/);
    assert.equal(report.failure!.phase, 'installer');
  } finally {
    await sim.stop();
  }
});

test('a step budget that runs out while the port is away is "port-lost", not "stalled"', async () => {
  const { report } = await expectFault(
    'port-lost',
    async ({ board, pair }) => {
      await board.boot();
      await board.say(['obsbuild-install: [1/8] checking files']);
      await pair.stop();
    },
    { budgets: { ...TEST_BUDGETS, installerStep: 1000, reconnect: 20_000 } },
    4000,
  );
  assert.match(report.failure!.message, /^serial port .*ttyConsole lost .* ago and is not back \(installer step \[1\/8\] checking files printed no progress for 1 s\)/);
});

test('a long line of text without a line end is "line-too-long" (a flood), not "wrong-baud"', async () => {
  const { report } = await expectFault('line-too-long', async ({ board }) => {
    await board.boot();
    // what `base64 -w0 /dev/urandom` looks like: 100% printable, no CR or LF
    let x = 7;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (let i = 0; i < 40; i++) {
      let s = '';
      for (let k = 0; k < 4096; k++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        s += alphabet[x % 64];
      }
      board.write(s);
      await sleep(2);
    }
  });
  assert.match(report.failure!.message, /garbage or a flood on the line: \d+ bytes without a line end/);
  assert.equal(report.failure!.phase, 'boot');
});
