/**
 * `obsbuild verify` on one box, through a BoxShell, changing nothing: the console's post-boot checks (read
 * only), whether this node holds the floating addresses of an HA pair, drift of the node's files against the
 * site file, and whether the config the site gives is the one applied on the box.
 */
import type { AppliedRecord } from '../contracts/applied-record.js';
import { APPLIED_RECORD_MAX_BYTES } from '../contracts/applied-record.js';
import type { BaseFiles } from '../contracts/base-files.js';
import { APPLIED_RECORD_PATH, SHADOW_PATH } from '../contracts/box-paths.js';
import { boxBase, boxBaseReads } from './box-base.js';
import type { Manifest } from '../contracts/manifest.js';
import { runChecks, type CheckResult, type Runner } from '../console/checks.js';
import { BATCH_OUTPUT_CAP, runBatch } from './batch.js';
import { formatCheckLine } from '../console/report.js';
import type { CommandResult } from '../console/shell.js';
import { chooseRootHash } from '../image/shadow.js';
import type { BoxShell } from '../remote/box-shell.js';
import type { LoadedSite } from '../site/load.js';
import { UserError } from '../util/errors.js';
import { BOX_FILES_MAX_PATHS, boxFilesRequest, readBoxFiles, type BoxFile } from './box-files.js';
import { boxLinksRequest, readBoxLinks } from './box-links.js';
import { appliedConfigId, desiredNode, type DesiredNode } from './desired.js';
import { compareFiles, compareLinks, leftoverCandidates, leftoverFiles, secretDiff, type DriftEntry, type LeftoverFile } from './drift.js';
import { haHolding, haNodeCheck, type HaHolding } from './ha.js';

export type { DriftEntry, LeftoverFile } from './drift.js';

export interface VerifyOptions {
  /** The site file, loaded. */
  loaded: LoadedSite;
  /** HA pair member. */
  node?: 'master' | 'backup';
  /** The build the box was installed from (manifest id check, owned-file list). */
  manifest?: Manifest | null;
  log?: (line: string) => void;
  /** How the box is named in the report and in errors (describeBoxTarget); default "the box". */
  target?: string;
  /**
   * For apply, which verifies the new files before it records them as applied: the box's record still
   * names the previous config, so 'applied config is live' is SKIP instead of comparing ids.
   */
  beforeRecord?: boolean;
}

export interface VerifyReport {
  target: string;
  node: { role: 'single' | 'master' | 'backup'; hostname: string };
  /** The console's checks (read only), the HA check for a pair member, then drift and applied config. */
  checks: CheckResult[];
  drift: DriftEntry[];
  /** Files an install or apply owned that the site no longer renders, still on the box (information). */
  leftovers: LeftoverFile[];
  /** For an HA pair member: which floating addresses it holds (verifyHaPair compares two reports). */
  ha: HaHolding | null;
  /** What /etc/obsbuild/applied.json on the box says. */
  appliedId: string | null;
  /** appliedConfigId(desiredNode(...), loaded.sha256). */
  desiredId: string;
  /** Every check pass or skip. */
  passed: boolean;
}

export const DRIFT_CHECK = 'files match the site file (drift)';
export const APPLIED_CHECK = 'applied config is live';
const IP_ADDR = 'ip -o -4 addr show';
/** The checks' share of the batch's time; the file reading adds its own. */
const BATCH_TIMEOUT_MS = 120_000;

/** BoxShell.run as the console checks' Runner; a command the transport gave up on is a result without exit status. */
export function boxRunner(shell: BoxShell): Runner {
  return async (command: string): Promise<CommandResult> => {
    const start = Date.now();
    try {
      const r = await shell.run(command);
      return { command, exitCode: r.exitCode, output: r.stdout, durationMs: Date.now() - start };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return { command, exitCode: null, output: err.message, durationMs: Date.now() - start };
    }
  };
}

export interface AppliedReading {
  record: AppliedRecord | null;
  /** Why the box's file is not a record apply writes; null when it is one or there is none. */
  problem: string | null;
}

/** The box's applied record (untrusted): bounded, and only a record with an id and a file list counts. */
export function parseAppliedRecord(file: BoxFile | null): AppliedReading {
  if (!file) return { record: null, problem: null };
  if (file.truncated || file.size > APPLIED_RECORD_MAX_BYTES) return { record: null, problem: `${APPLIED_RECORD_PATH} is ${file.size} bytes, not a record apply writes` };
  let data: unknown;
  try {
    data = JSON.parse(file.bytes.toString('utf8'));
  } catch {
    return { record: null, problem: `${APPLIED_RECORD_PATH} is not valid JSON` };
  }
  const r = data as Partial<AppliedRecord> | null;
  const filesOk =
    !!r &&
    Array.isArray(r.files) &&
    r.files.length <= BOX_FILES_MAX_PATHS &&
    r.files.every((f) => !!f && typeof f.path === 'string' && f.path.startsWith('/') && f.path.length <= 4096 && !/[\x00-\x1f\x7f]/.test(f.path) && typeof f.sha256 === 'string');
  if (!r || typeof r !== 'object' || typeof r.id !== 'string' || !/^[0-9a-f]{16}$/.test(r.id) || !filesOk) {
    return { record: null, problem: `${APPLIED_RECORD_PATH} is not an applied record (no id or file list)` };
  }
  return { record: r as AppliedRecord, problem: null };
}

function check(name: string, status: CheckResult['status'], evidence: string, command: string | null = null): CheckResult {
  return { name, status, command, exitCode: null, output: '', evidence };
}

/**
 * The node's desired files from the box's base files; a shadow that could not be read whole, or has no root
 * line, is drift of /etc/shadow, not a crash (the rest is rendered without it).
 */
function desiredWithShadow(opts: VerifyOptions, shadow: BoxFile | null, base: BaseFiles): { desired: DesiredNode; extra: DriftEntry[] } {
  const withoutShadow = () => desiredNode(opts.loaded, opts.node, { ...base, shadow: undefined });
  if (chooseRootHash(opts.loaded) === null) return { desired: withoutShadow(), extra: [] };
  if (base.shadow === undefined) {
    return { desired: withoutShadow(), extra: [{ path: SHADOW_PATH, state: 'missing', expectedSha256: '', boxSha256: shadow?.sha256 ?? null }] };
  }
  if (!base.shadow.split('\n').some((l) => l.startsWith('root:'))) {
    return {
      desired: withoutShadow(),
      extra: [{ path: SHADOW_PATH, state: 'drifted', expectedSha256: '', boxSha256: shadow?.sha256 ?? null, diff: `${secretDiff(SHADOW_PATH).trimEnd()}: it has no root entry\n` }],
    };
  }
  return { desired: desiredNode(opts.loaded, opts.node, base), extra: [] };
}

function driftCheck(drift: DriftEntry[], leftovers: LeftoverFile[]): CheckResult {
  const drifted = drift.filter((d) => d.state === 'drifted').map((d) => d.path);
  const missing = drift.filter((d) => d.state === 'missing').map((d) => d.path);
  const info = leftovers.length ? `; info: left over, the site no longer renders ${leftovers.map((l) => l.path).join(', ')}` : '';
  if (drifted.length + missing.length === 0) return check(DRIFT_CHECK, 'pass', `${drift.length} file(s) as the site file renders them${info}`);
  const parts = [drifted.length ? `differ: ${drifted.join(', ')}` : '', missing.length ? `missing: ${missing.join(', ')}` : ''].filter(Boolean);
  return check(DRIFT_CHECK, 'fail', `${parts.join('; ')} (obsbuild apply puts them back)${info}`);
}

function appliedCheck(reading: AppliedReading, desiredId: string, drifted: number): CheckResult {
  const cmd = `read ${APPLIED_RECORD_PATH}`;
  if (reading.problem) return check(APPLIED_CHECK, 'fail', reading.problem, cmd);
  const rec = reading.record;
  if (!rec) {
    return drifted === 0
      ? check(APPLIED_CHECK, 'pass', `as installed: no apply recorded, the files match the site file (config ${desiredId})`, cmd)
      : check(APPLIED_CHECK, 'fail', `no apply recorded and ${drifted} file(s) differ from the site file: run obsbuild apply`, cmd);
  }
  if (rec.id !== desiredId) return check(APPLIED_CHECK, 'fail', `the box last applied config ${rec.id}, the site file gives ${desiredId}: run obsbuild apply`, cmd);
  if (drifted > 0) return check(APPLIED_CHECK, 'fail', `config ${rec.id} was applied, but ${drifted} file(s) changed on the box since`, cmd);
  return check(APPLIED_CHECK, 'pass', `config ${rec.id} applied${rec.appliedAt ? ` at ${rec.appliedAt}` : ''} and unchanged`, cmd);
}

export async function verifyBox(shell: BoxShell, opts: VerifyOptions): Promise<VerifyReport> {
  const log = opts.log ?? (() => {});
  const who = opts.target ?? 'the box';
  const site = opts.loaded.site;
  // first, so a pair without --node is refused before anything runs on the box
  const rendered = desiredNode(opts.loaded, opts.node);

  // Everything verify reads from the box is known before it asks: the checks' commands depend only on the
  // site (a dry pass learns them), the files on the site and the manifest. So one round trip carries them
  // all, the file reading as the batch's last command: over SSH one session, over serial one prompt.
  const ctx = { site, manifestId: opts.manifest?.id ?? null, node: opts.node, readOnly: true };
  const planned: string[] = [];
  await runChecks(async (command) => {
    planned.push(command);
    return { command, exitCode: 0, output: '', durationMs: 0 };
  }, ctx);
  const reads = boxBaseReads(site);
  const files = boxFilesRequest(
    [...rendered.files.map((f) => f.path), ...reads.paths, APPLIED_RECORD_PATH, ...leftoverCandidates(opts.manifest, null)],
    who,
    shell.lineBytesPerSecond,
  );
  // the site's own symlinks: where each points (a batch command of its own, only when there are any)
  const links = boxLinksRequest((rendered.links ?? []).map((f) => f.path), who);
  const linkScripts = links.paths.length ? [links.script] : [];
  log(`${who}: running the checks and reading ${files.paths.length} files${links.paths.length ? ` and ${links.paths.length} links` : ''}`);
  const commands = [...new Set([...planned, IP_ADDR, ...reads.commands])];
  const batch = await runBatch(shell, [...commands, files.script, ...linkScripts], who, {
    timeoutMs: BATCH_TIMEOUT_MS + files.timeoutMs,
    outputCap: BATCH_OUTPUT_CAP + files.maxChars + (links.paths.length ? links.maxChars : 0),
  }).catch((err: unknown) => {
    if (!(err instanceof UserError)) throw err;
    log(`${who}: the batched checks failed (${err.message}); running them one by one`);
    return new Map<string, CommandResult>();
  });
  const outputs = new Map<string, CommandResult>();
  const inner = boxRunner(shell);
  const runner: Runner = async (command) => {
    // a command the batch did not see finish runs again on its own, with its own timeout
    const b = batch.get(command);
    const r = b && b.exitCode !== null ? b : await inner(command);
    outputs.set(command, r);
    return r;
  };
  const checks = await runChecks(runner, ctx);

  let ha: HaHolding | null = null;
  if (site.lvs.vrrp && rendered.role !== 'single') {
    const ip = outputs.get(IP_ADDR) ?? (await runner(IP_ADDR));
    ha = haHolding(site, { role: rendered.role, hostname: rendered.hostname }, ip.exitCode === 0 ? ip.output : '');
    checks.push(ip.exitCode === 0 ? haNodeCheck(ha, IP_ADDR, ip.output) : check('floating addresses held all or not at all', 'fail', `${IP_ADDR} failed`, IP_ADDR));
  }

  // output the batch carried is parsed as strictly as a read of its own; a cut batch reads the files again alone
  const read = batch.get(files.script);
  const box = read && read.exitCode !== null ? files.parse(read.output, read.exitCode) : await readBoxFiles(shell, files.paths, who);
  const reading = parseAppliedRecord(box.get(APPLIED_RECORD_PATH) ?? null);
  // the applied record may name files the manifest does not (rare): one more read for those only
  const more = leftoverCandidates(null, reading.record).filter((p) => !box.has(p));
  if (more.length) for (const [p, f] of await readBoxFiles(shell, more, who)) box.set(p, f);

  const linkRead = links.paths.length ? batch.get(links.script) : undefined;
  const boxLinks = linkRead && linkRead.exitCode !== null ? links.parse(linkRead.output, linkRead.exitCode) : await readBoxLinks(shell, links.paths, who);

  const base = await boxBase(site, box, async (c) => (await runner(c)).output, who);
  const { desired, extra } = desiredWithShadow(opts, box.get(SHADOW_PATH) ?? null, base);
  const desiredLinks = desired.links ?? [];
  const drift = [...compareFiles(desired.files, box), ...compareLinks(desiredLinks, boxLinks), ...extra].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const leftovers = leftoverFiles([...desired.files, ...desiredLinks], box, opts.manifest, reading.record).filter((l) => l.path !== SHADOW_PATH || !extra.length);
  const desiredId = appliedConfigId(desired, opts.loaded.sha256);
  const notSame = drift.filter((d) => d.state !== 'same').length;
  checks.push(
    driftCheck(drift, leftovers),
    opts.beforeRecord
      ? check(APPLIED_CHECK, 'skip', `checked before the applied record is written (config ${desiredId})`)
      : appliedCheck(reading, desiredId, notSame),
  );

  return {
    target: who,
    node: { role: desired.role, hostname: desired.hostname },
    checks,
    drift,
    leftovers,
    ha,
    appliedId: reading.record?.id ?? null,
    desiredId,
    passed: checks.every((c) => c.status !== 'fail'),
  };
}

/** Box text shown to a person: control characters escaped, except the tab a config file may hold. */
function printable(line: string): string {
  return line.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The report as the console prints its checks, then each drifted file's diff and the left-over files. */
export function formatVerifyReport(r: VerifyReport): string {
  const lines = [`obsbuild: verify ${r.target}: ${r.node.hostname}${r.node.role === 'single' ? '' : ` (${r.node.role})`}`];
  for (const c of r.checks) lines.push(formatCheckLine(c));
  const drifted = r.drift.filter((d) => d.state !== 'same');
  if (drifted.length) {
    lines.push('', 'drift (--- box, +++ site file):');
    for (const d of drifted) {
      if (d.state === 'missing') lines.push(`${d.path}: missing on the box`);
      else for (const l of (d.diff ?? `${d.path}: differs\n`).replace(/\n$/, '').split('\n')) lines.push(printable(l));
    }
  }
  if (r.leftovers.length) {
    lines.push('', 'left over (an earlier install or apply wrote them, the site file no longer renders them; remove them by hand if unused):');
    for (const l of r.leftovers) lines.push(`  ${l.path} (listed in the ${l.from === 'manifest' ? 'manifest' : 'applied record'})`);
  }
  const failed = r.checks.filter((c) => c.status === 'fail');
  lines.push(
    '',
    r.passed
      ? `obsbuild: verify: PASS, ${r.node.hostname} matches the site file`
      : `obsbuild: verify: FAIL, ${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`,
  );
  return `${lines.join('\n')}\n`;
}
