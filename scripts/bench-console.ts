/**
 * Console figures for the "Numbers":
 *  - latency: on the board simulator (socat pty pair), from the board writing a line to the verdict that
 *    depends on it (an installer FAILED line → runConsole resolved; an installer step → progress event);
 *  - memory: an hour of serial chatter at the full 115200 8N1 line rate, replayed as fast as possible through
 *    the expecter, phase machine and transcript, with the heap measured after GC along the way.
 * Run: node dist/scripts/bench-console.js  (needs socat; builds on the test simulator in dist/test).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Expecter } from '../src/console/expect.js';
import { PhaseMachine, DEFAULT_BUDGETS } from '../src/console/phases.js';
import { Transcript, LastLines } from '../src/console/report.js';
import { Sim, sleep } from '../test/console/simulator.js';
import { runAgainst, TEST_BUDGETS } from '../test/console/harness.js';

export interface LatencyFigures {
  runs: number;
  verdictMs: { min: number; median: number; max: number };
  progressMs: { min: number; median: number; max: number };
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

export async function measureLatency(runs = 5): Promise<LatencyFigures> {
  const verdict: number[] = [];
  const progress: number[] = [];
  for (let i = 0; i < runs; i++) {
    const sim = await Sim.start();
    try {
      let failedWrittenAt = 0;
      const stepWrites = new Map<number, number>();
      const { report } = await runAgainst(
        sim,
        async ({ board }) => {
          await board.boot();
          for (let n = 1; n <= 4; n++) {
            await board.say([`obsbuild-install: [${n}/8] step ${n}`], 0);
            stepWrites.set(n, board.lastWriteAt);
            await sleep(50);
          }
          await board.say(['obsbuild-install: FAILED [5/8] extracting rootfs: tar: short read'], 0);
          failedWrittenAt = board.lastWriteAt;
        },
        {
          budgets: TEST_BUDGETS,
          onProgress: (e) => {
            if (e.step) progress.push(Date.now() - (stepWrites.get(e.step.n) ?? Date.now()));
          },
        },
      );
      const doneAt = Date.parse(report.finishedAt);
      if (report.failure?.class !== 'installer-failed') throw new Error(`unexpected verdict ${report.failure?.class}`);
      verdict.push(doneAt - failedWrittenAt);
    } finally {
      await sim.stop();
    }
  }
  return { runs, verdictMs: stats(verdict), progressMs: stats(progress) };
}

export interface MemoryFigures {
  bytesReplayed: number;
  linesReplayed: number;
  seconds: number;
  heapMiB: { atStart: number; at10pct: number; at50pct: number; atEnd: number };
}

function gc(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

const heapMiB = () => {
  gc();
  return +(process.memoryUsage().heapUsed / 1048576).toFixed(2);
};

/** One hour at 115200 8N1 is 11520 bytes/s × 3600 s ≈ 41.5 MB of chatter. */
export async function measureReplayMemory(bytes = 11520 * 3600): Promise<MemoryFigures> {
  const expecter = new Expecter();
  const machine = new PhaseMachine(expecter, { ...DEFAULT_BUDGETS, waiting: 1e9, boot: 1e9, login: 1e9 }, 'start');
  const last = new LastLines(50);
  expecter.on('line', (l: string) => last.push(l));
  let written = 0;
  const transcript = new Transcript({ write: (c: string | Buffer) => (written += c.length) });
  // a pending expect, as while waiting for the login prompt
  const waiting = expecter.expect([/\S+ login: ?$/], 1e9).catch(() => undefined);
  const sample = [
    '[ 1234.567890] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX/TX\r\n',
    'IPVS: [wlc] scheduler registered.\r\n',
    '\x1b[1;32mKeepalived_healthcheckers\x1b[0m: TCP connection to [172.16.14.121]:80 success.\r\n',
    'root@obs600:~# \x1b[6n',
    'Dec  1 12:00:00 obs600 kernel: [ 42.000000] usb 1-1: USB disconnect, address 2 ✓\r\n',
  ].map((s) => Buffer.from(s));
  const chunk = Buffer.concat(Array.from({ length: 40 }, (_, i) => sample[i % sample.length]));
  const lines = chunk.toString().split('\n').length - 1;
  const started = Date.now();
  const figures = { atStart: heapMiB(), at10pct: 0, at50pct: 0, atEnd: 0 };
  let fed = 0;
  let n = 0;
  while (fed < bytes) {
    const at = Date.now();
    transcript.board(chunk, at);
    machine.onBytes(chunk);
    expecter.feed(chunk);
    fed += chunk.length;
    n++;
    if (figures.at10pct === 0 && fed >= bytes * 0.1) figures.at10pct = heapMiB();
    if (figures.at50pct === 0 && fed >= bytes * 0.5) figures.at50pct = heapMiB();
    if (n % 2000 === 0) await new Promise((r) => setImmediate(r));
  }
  figures.atEnd = heapMiB();
  machine.finish(true);
  expecter.fail(new Error('end of replay'));
  await waiting;
  return { bytesReplayed: fed, linesReplayed: n * lines, seconds: (Date.now() - started) / 1000, heapMiB: figures };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const latency = await measureLatency(Number(process.env.RUNS ?? 5));
  console.log('latency (board writes line → verdict / progress), ms:', JSON.stringify(latency));
  const mem = await measureReplayMemory();
  console.log('hour-long replay:', JSON.stringify(mem));
}
