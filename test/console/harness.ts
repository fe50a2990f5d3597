/** Runs the console in-process against a simulated board and collects report and transcript. */
import { SerialTransport } from '../../src/console/transport.js';
import { runConsole, type ConsoleRunOptions } from '../../src/console/session.js';
import { Transcript, type ConsoleReport } from '../../src/console/report.js';
import { DEFAULT_BUDGETS, type Budgets } from '../../src/console/phases.js';
import type { Site } from '../../src/site/model.js';
import { type Sim, waitFor } from './simulator.js';

export const TEST_BUDGETS: Budgets = {
  ...DEFAULT_BUDGETS,
  waiting: 3000,
  boot: 5000,
  installerStep: 2000,
  installDone: 5000,
  reboot: 5000,
  firstbootStep: 2000,
  login: 10000,
  command: 10000,
};

export function testSite(): Site {
  return {
    board: 'obs600',
    hostname: 'obs600',
    root: { password_hash: null, allow_default_password: true, authorized_keys: [] },
    network: {
      interfaces: { eth0: { address: '192.168.253.254/24' }, eth1: { address: '172.16.14.120/24' } },
      gateway: null,
      nameservers: [],
      ip_forward: true,
      sysctl: {},
    },
    lvs: {
      manager: 'keepalived',
      vrrp: null,
      virtual_servers: [
        {
          name: 'web',
          address: '192.168.253.120',
          port: 80,
          protocol: 'tcp',
          forwarding: 'nat',
          scheduler: 'wlc',
          persistence_timeout: 0,
          delay_loop: 6,
          check: { type: 'http', path: '/', status: 200, connect_timeout: 3, retries: 3, retry_delay: 2 },
          sorry_server: null,
          real_servers: [
            { address: '172.16.14.121', port: 80, weight: 1 },
            { address: '172.16.14.122', port: 80, weight: 1 },
            { address: '172.16.14.123', port: 80, weight: 1 },
          ],
        },
      ],
    },
    packages: { suite: 'lenny', arch: 'powerpc', mirror: null, extra: [] },
    install: { cf_device: '/dev/sda' },
    files: { folder: null, entries: [] },
    timezone: 'Asia/Tokyo',
    ntp: null,
    syslog: null,
  };
}

export interface RunResult {
  report: ConsoleReport;
  transcript: string;
  scenarioError: unknown;
}

export async function runAgainst(
  sim: Sim,
  scenario: (sim: Sim, transport: SerialTransport) => Promise<unknown>,
  opts: Partial<ConsoleRunOptions> = {},
): Promise<RunResult> {
  const transport = new SerialTransport({ path: sim.consolePath, baudRate: 115200, pollMs: 100 });
  const chunks: Buffer[] = [];
  const transcript = new Transcript({ write: (c: string | Buffer) => chunks.push(Buffer.from(c)) });
  const run = runConsole({
    transport,
    portLabel: sim.consolePath,
    baudRate: 115200,
    mode: 'follow',
    user: 'root',
    password: 'root',
    budgets: TEST_BUDGETS,
    site: testSite(),
    manifestId: 'm-0123456789ab',
    transcript,
    ...opts,
  });
  await waitFor(() => transport.connected, 5000, 'console to open the port');
  let scenarioError: unknown = null;
  const playing = scenario(sim, transport).catch((e) => (scenarioError = e));
  const report = await run;
  await sim.board.shutdown();
  await playing;
  if (process.env.OBSBUILD_TEST_DEBUG) console.error("scenario:", scenarioError, Buffer.concat(chunks).toString("latin1"));
  return { report, transcript: Buffer.concat(chunks).toString('latin1'), scenarioError };
}
