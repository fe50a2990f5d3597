/**
 * Day-two benchmark on the virtual board: `obsbuild verify` over SSH and over the serial console (115200 baud),
 * `apply` of one changed file (keepalived.conf: the scheduler) end to end with its reload and verification, and
 * with --pair, `verify` of both boards of the HA pair at once against one alone.
 *
 *   node dist/scripts/bench-daytwo.js [--json] [--runs N] [--pair] [--capture DIR]
 *
 * Goals: verify ≤ 5 s over SSH, ≤ 20 s over serial; apply of one file ≤ 30 s; both HA boards ≤ 1.3 × one.
 * Boots QEMU boards (minutes each under TCG): the stand-in inputs are built or taken from the cache first.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { boardFile } from '../src/vobs/recipe.js';
import { ensureStandin } from '../src/vobs/standin.js';
import { chooseKeepalived } from '../src/vobs/keepalived-choice.js';
import { runVmKept, type VmSession } from '../src/vobs/vm-run.js';

const cliPath = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export interface DaytwoFigures {
  keepalived: string;
  verifySshSeconds: number[];
  verifySerialSeconds: number[];
  applyOneFileSeconds: number[];
  pair?: { oneSeconds: number[]; bothSeconds: number[]; ratio: number };
  goals: { verifySsh: boolean; verifySerial: boolean; apply: boolean; pair?: boolean };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Where --capture DIR keeps the first run of each command's output (for the README's captured run). */
let captureDir: string | undefined;
const captured = new Set<string>();

async function timedCli(args: string[], log: (l: string) => void, name?: string): Promise<number> {
  const t0 = performance.now();
  const r = await execa(process.execPath, [cliPath, ...args], { reject: false, all: true, env: { OBSBUILD_ROOT_PASSWORD: 'root' } });
  const s = Math.round(performance.now() - t0) / 1000;
  log(`obsbuild ${args.slice(0, 2).join(' ')} ... -> exit ${r.exitCode} in ${s} s`);
  if (r.exitCode !== 0) throw new Error(`obsbuild ${args.join(' ')} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
  if (captureDir && name && !captured.has(name)) {
    captured.add(name);
    await writeFile(join(captureDir, `${name}.txt`), `$ obsbuild ${args.join(' ')}\n${r.all}\n`);
  }
  return s;
}

async function siteWithKey(dir: string, template: string, pub: string): Promise<string> {
  const file = join(dir, `site-${template}`);
  await writeFile(file, (await readFile(boardFile(template), 'utf8')).replace(/authorized_keys: \[\]/, `authorized_keys: [${JSON.stringify(pub)}]`));
  return file;
}

export async function runDaytwoBench(opts: { runs?: number; pair?: boolean; capture?: string; log?: (l: string) => void } = {}): Promise<DaytwoFigures> {
  captureDir = opts.capture;
  const runs = opts.runs ?? 3;
  const log = opts.log ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-bench-daytwo-'));
  const sessions: VmSession[] = [];
  try {
    const keepalived = await chooseKeepalived(undefined);
    log(keepalived.notice);
    const standin = await ensureStandin({ log, keepalived });
    const key = join(dir, 'admin_rsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', key]);
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
    const out = join(dir, 'out');

    const site = await siteWithKey(dir, 'site.yaml', pub);
    log('booting the NAT board (install, first boot, traffic, verdict)…');
    const nat = await runVmKept({ siteFile: site, outDir: out, standin, check: true, log, rootPassword: 'root' });
    sessions.push(nat);
    const [board] = nat.boards;
    if (!board?.sshPort) throw new Error('the NAT board has no SSH forward');
    const ssh = ['--host', `root@127.0.0.1:${board.sshPort}`, '--out', out, '--identity', key, '--accept-new-host-key'];

    const verifySshSeconds: number[] = [];
    for (let i = 0; i < runs; i++) verifySshSeconds.push(await timedCli(['verify', '--site', site, ...ssh], log, 'verify-ssh'));
    const verifySerialSeconds = [await timedCli(['verify', '--site', site, '--port', board.pty], log, 'verify-serial')];

    // One changed file each time: the scheduler alternates, so every run really changes keepalived.conf.
    const applyOneFileSeconds: number[] = [];
    const text = await readFile(site, 'utf8');
    for (let i = 0; i < runs; i++) {
      const changed = join(dir, `site-apply-${i}.yaml`);
      await writeFile(changed, text.replace('scheduler: wlc ', i % 2 === 0 ? 'scheduler: rr  ' : 'scheduler: lc  '));
      applyOneFileSeconds.push(await timedCli(['apply', '--site', changed, '--yes', ...ssh], log, 'apply-ssh'));
    }
    await nat.powerOff();

    let pair: DaytwoFigures['pair'];
    if (opts.pair) {
      const ha = await siteWithKey(dir, 'site-ha.yaml', pub);
      log('booting the HA pair…');
      const session = await runVmKept({ siteFile: ha, outDir: out, standin, check: true, log, rootPassword: 'root' });
      sessions.push(session);
      const master = session.boards.find((b) => b.role === 'master');
      const backup = session.boards.find((b) => b.role === 'backup');
      if (!master?.sshPort || !backup?.sshPort) throw new Error('the HA boards have no SSH forwards');
      const base = ['--site', ha, '--out', out, '--identity', key, '--accept-new-host-key', '--node', 'master', '--host', `root@127.0.0.1:${master.sshPort}`];
      const oneSeconds: number[] = [];
      const bothSeconds: number[] = [];
      for (let i = 0; i < runs; i++) {
        oneSeconds.push(await timedCli(['verify', ...base], log));
        bothSeconds.push(await timedCli(['verify', ...base, '--peer-host', `root@127.0.0.1:${backup.sshPort}`], log));
      }
      pair = { oneSeconds, bothSeconds, ratio: Math.round((median(bothSeconds) / median(oneSeconds)) * 100) / 100 };
      await session.powerOff();
    }
    return {
      keepalived: keepalived.notice,
      verifySshSeconds,
      verifySerialSeconds,
      applyOneFileSeconds,
      pair,
      goals: {
        verifySsh: median(verifySshSeconds) <= 5,
        verifySerial: median(verifySerialSeconds) <= 20,
        apply: median(applyOneFileSeconds) <= 30,
        pair: pair ? pair.ratio <= 1.3 : undefined,
      },
    };
  } finally {
    for (const s of sessions) await s.powerOff().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function formatFigures(f: DaytwoFigures): string {
  const m = (xs: number[]) => `${median(xs).toFixed(1)} s (runs: ${xs.map((x) => x.toFixed(1)).join(', ')})`;
  const ok = (b: boolean | undefined) => (b ? 'met' : 'MISSED');
  const lines = [
    f.keepalived,
    `verify over SSH: ${m(f.verifySshSeconds)}; goal ≤ 5 s: ${ok(f.goals.verifySsh)}`,
    `verify over serial (115200): ${m(f.verifySerialSeconds)}; goal ≤ 20 s: ${ok(f.goals.verifySerial)}`,
    `apply of one changed file (keepalived.conf) with reload and verification: ${m(f.applyOneFileSeconds)}; goal ≤ 30 s: ${ok(f.goals.apply)}`,
  ];
  if (f.pair) {
    lines.push(`verify both HA boards at once ${m(f.pair.bothSeconds)} vs one ${m(f.pair.oneSeconds)} = ${f.pair.ratio.toFixed(2)}×; goal ≤ 1.3×: ${ok(f.goals.pair)}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const json = process.argv.includes('--json');
  const runsAt = process.argv.indexOf('--runs');
  const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : undefined;
  const captureAt = process.argv.indexOf('--capture');
  const capture = captureAt > 0 ? process.argv[captureAt + 1] : undefined;
  const figures = await runDaytwoBench({ runs, pair: process.argv.includes('--pair'), capture, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(json ? `${JSON.stringify(figures, null, 2)}\n` : `${formatFigures(figures)}\n`);
}
