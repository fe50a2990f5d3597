/**
 * The console through a console server: the real ser2net serving the simulated board's pty on 127.0.0.1,
 * as RFC 2217 (baud and line settings negotiated) and as raw TCP. The same phases, checks and verdict as a
 * local port; a dropped connection is reported at once, and with a reconnect budget a ser2net restart in the
 * middle of the install is a gap, not a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConsole } from '../../src/console/session.js';
import { Transcript } from '../../src/console/report.js';
import { NetworkTransport, parseNetworkPort } from '../../src/console/network-transport.js';
import { runCli } from '../helpers/cli.js';
import { Sim, goodBox, makeBoxRoot, sleep, waitFor } from './simulator.js';
import { TEST_BUDGETS, testSite } from './harness.js';
import { Ser2net, freePort } from './ser2net.js';

async function runThrough(server: Ser2net, sim: Sim, scenario: (transport: NetworkTransport) => Promise<void>, reconnectMs: number) {
  const notes: string[] = [];
  const transport = new NetworkTransport({ target: parseNetworkPort(server.url)!, baudRate: 115200, retryMs: 100, onNote: (l) => notes.push(l) });
  const chunks: Buffer[] = [];
  const transcript = new Transcript({ write: (c: string | Buffer) => chunks.push(Buffer.from(c)) });
  const run = runConsole({
    transport,
    portLabel: server.url,
    baudRate: 115200,
    mode: 'follow',
    user: 'root',
    password: 'root',
    budgets: { ...TEST_BUDGETS, reconnect: reconnectMs },
    site: testSite(),
    manifestId: 'm-0123456789ab',
    transcript,
  });
  await waitFor(() => transport.connected, 5000, 'console to reach ser2net');
  let scenarioError: unknown = null;
  const playing = scenario(transport).catch((e) => (scenarioError = e));
  const report = await run;
  await sim.board.shutdown();
  await playing;
  return { report, notes, scenarioError, transcript: Buffer.concat(chunks).toString('latin1') };
}

for (const kind of ['rfc2217', 'tcp'] as const) {
  test(`through ser2net (${kind}): install, first boot, login and every check, as on a local port`, async () => {
    const sim = await Sim.start();
    const server = new Ser2net(sim.dir, sim.consolePath, kind, await freePort());
    try {
      await server.start();
      const box = goodBox();
      const root = await makeBoxRoot(sim.dir, box);
      const { report, notes } = await runThrough(
        server,
        sim,
        async () => {
          assert.ok(await server.deviceOpen(), 'ser2net opened the pty'); // ser2net opens the pty when the client connects
          await sim.board.boot();
          await sim.board.installer(8);
          await sleep(200);
          await sim.board.boot();
          await sim.board.firstboot(box.manifestId);
          await sim.board.login({ hostname: 'obs600', password: 'root', root });
        },
        0,
      );
      assert.equal(report.failure, null, JSON.stringify(report.failure));
      assert.equal(report.ok, true);
      assert.equal(report.port, server.url);
      assert.equal(report.steps.filter((s) => s.script === 'install' && s.n > 0).length, 8);
      assert.equal(report.checks.length, 13);
      // the test site sets no ntp: and no syslog:, so those two checks are SKIP; every other one passes
      for (const c of report.checks) assert.equal(c.status, /^(NTP daemon|syslog forwards)/.test(c.name) ? 'skip' : 'pass', `${c.name}: ${c.evidence}`);
      if (kind === 'rfc2217') assert.deepEqual(notes, [`${server.url}: RFC 2217 line settings confirmed: 115200 8N1, no flow control`]);
      else assert.deepEqual(notes, []);
    } finally {
      await server.stop();
      await sim.stop();
    }
  });
}

test('a ser2net restart mid-install: reported at once, and with a reconnect budget the run goes on', async () => {
  const sim = await Sim.start();
  const server = new Ser2net(sim.dir, sim.consolePath, 'rfc2217', await freePort());
  try {
    await server.start();
    const box = goodBox();
    const root = await makeBoxRoot(sim.dir, box);
    const { report, transcript } = await runThrough(
      server,
      sim,
      async (transport) => {
        assert.ok(await server.deviceOpen(), 'ser2net opened the pty');
        await sim.board.boot();
        await sim.board.say(['obsbuild-install: [1/4] checking files', 'obsbuild-install: [2/4] partitioning CF']);
        await server.stop();
        await sleep(700);
        await server.start();
        await waitFor(() => transport.connected, 5000, 'console to reconnect to ser2net');
        assert.ok(await server.deviceOpen(), 'ser2net opened the pty');
        await sim.board.say(['obsbuild-install: [3/4] making filesystems', 'obsbuild-install: [4/4] extracting rootfs', 'obsbuild-install: done']);
        await sim.board.boot();
        await sim.board.firstboot(box.manifestId);
        await sim.board.login({ hostname: 'obs600', password: 'root', root });
      },
      10_000,
    );
    const seen = `gaps ${JSON.stringify(report.gaps)}; transcript tail:\n${transcript.slice(-3000)}`;
    assert.equal(report.failure, null, `${JSON.stringify(report.failure)}; ${seen}`);
    assert.equal(report.gaps.length, 1, seen);
    assert.ok(report.gaps[0].ms >= 600, `gap ${report.gaps[0].ms} ms`);
    assert.match(transcript, /closed the connection/);
    assert.equal(report.steps.filter((s) => s.script === 'install' && s.n > 0).length, 4, seen);
  } finally {
    await server.stop();
    await sim.stop();
  }
});

test('without a reconnect budget a dropped console-server connection fails the run at once as port-lost', async () => {
  const sim = await Sim.start();
  const server = new Ser2net(sim.dir, sim.consolePath, 'tcp', await freePort());
  try {
    await server.start();
    const started = Date.now();
    const { report } = await runThrough(
      server,
      sim,
      async () => {
        assert.ok(await server.deviceOpen(), 'ser2net opened the pty');
        await sim.board.boot();
        await server.stop();
      },
      0,
    );
    assert.equal(report.failure?.class, 'port-lost');
    assert.match(report.failure?.message ?? '', /tcp:\/\/127\.0\.0\.1:\d+.*closed the connection/);
    assert.ok(Date.now() - started < 4000, 'reported at once, not after a budget');
  } finally {
    await server.stop();
    await sim.stop();
  }
});

test('--port URLs are checked before anything opens: a bad one is a usage error, an unreachable server names itself', async () => {
  for (const bad of ['rfc2217://', 'tcp://host', 'tcp://host:0', 'tcp://host:65536', 'telnet://host:23', 'tcp://a b:1']) {
    const r = await runCli(['console', '--port', bad, '--check', '--from', 'login']);
    assert.equal(r.exitCode, 2, `${bad}: ${r.stderr}`);
    assert.match(String(r.stderr), /expected rfc2217:\/\/host:port or tcp:\/\/host:port/);
  }
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-ser2net-'));
  try {
    const r = await runCli(['console', '--port', `tcp://127.0.0.1:${port}`, '--check', '--from', 'login', '--log', join(dir, 'console.log')]);
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr), new RegExp(`tcp://127\\.0\\.0\\.1:${port}: cannot reach the console server: .*ECONNREFUSED`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
