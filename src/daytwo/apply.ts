/**
 * `apply` on one box through a BoxShell: plan, ask, keep the files it replaces under
 * PREVIOUS_FILES_DIR/<UTC time>/, write each changed file (temp sibling + rename), activate, verify, record
 * the applied config; on any failure after the first write, put the previous files back, activate again,
 * verify again and say exactly what happened.
 */
import { posix } from 'node:path';
import type { AppliedRecord } from '../contracts/applied-record.js';
import { APPLIED_RECORD_FORMAT } from '../contracts/applied-record.js';
import { APPLIED_RECORD_PATH, KEEPALIVED_CONF_PATH, PREVIOUS_FILES_DIR, ROOT_SSH_DIR, SHADOW_PATH } from '../contracts/box-paths.js';
import type { BoxShell } from '../remote/box-shell.js';
import { shQuote } from '../remote/sh-quote.js';
import type { LoadedSite } from '../site/load.js';
import type { NodeRole } from '../site/model.js';
import { UserError } from '../util/errors.js';
import { labelOfAddress, readBalancerSnapshot, runActivation, type Activation, type ActivationOutcome, type Clock } from './activation.js';
import { defaultApplyDeps, type ApplyDeps, type VerifyReportLike } from './apply-deps.js';
import { boxBase, boxBaseReads } from './box-base.js';
import { appliedConfigId, appliedFiles, desiredNode, type DesiredNode } from './desired.js';
import { parseAppliedRecord } from './verify.js';
import { planApply, type Plan, type Session } from './plan.js';

export interface ApplyOptions {
  loaded: LoadedSite;
  node?: NodeRole;
  /** How the box is reached (SSH sessions must not lose their interface). */
  transport: 'ssh' | 'serial';
  /** describeBoxTarget(...), for messages. */
  target: string;
  dryRun?: boolean;
  /** Skip the question. */
  yes?: boolean;
  /** Asked with the plan unless `yes`; false leaves the box untouched. */
  confirm?: (plan: Plan) => Promise<boolean>;
  /** Called with the plan before anything is written (the command prints it). */
  onPlan?: (plan: Plan) => void;
  log?: (line: string) => void;
  obsbuildVersion: string;
  now?: () => Date;
  clock?: Clock;
  deps?: Partial<ApplyDeps>;
  /** Bound of the keepalived wait (tests). */
  keepalivedTimeoutMs?: number;
}

export type ApplyOutcome = 'refused' | 'dry-run' | 'declined' | 'no-changes' | 'applied' | 'rolled-back' | 'rollback-failed' | 'failed-before-write';

/** One thing done on the box, in order, as the report lists it. */
export interface ApplyStep {
  step: 'backup' | 'write' | 'activate' | 'verify' | 'record' | 'restore' | 'reactivate' | 'reverify';
  ok: boolean;
  detail: string;
}

export interface ApplyResult {
  target: string;
  outcome: ApplyOutcome;
  plan: Plan;
  steps: ApplyStep[];
  /** Where the replaced files were kept on the box; null when nothing was replaced. */
  previousDir: string | null;
  verify: VerifyReportLike | null;
  /** Verification after a rollback. */
  rollbackVerify: VerifyReportLike | null;
  /** The applied config's id, written to the box only when `outcome` is applied. */
  appliedId: string;
  /** One line a person reads first. */
  summary: string;
  exitCode: number;
}

/** `20261204T204706Z`: sorts by time, no characters a shell or a path would trip on. */
export function previousStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function sessionOf(shell: BoxShell, transport: 'ssh' | 'serial'): Promise<Session> {
  if (transport === 'serial') return { transport };
  // sshd sets SSH_CONNECTION to "client port server port"; the server address is the box's end
  const r = await shell.run('echo "ssh=$SSH_CONNECTION"; ip -o -4 addr show', { timeoutMs: 30_000 });
  const m = /^ssh=\S+ \d+ (\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}) \d+\s*$/m.exec(r.stdout);
  if (!m) return { transport, address: null, label: null };
  return { transport, address: m[1], label: labelOfAddress(r.stdout, m[1]) };
}

/** The applied record for `desired`, as written to the box. */
function appliedRecordBytes(o: ApplyOptions, desired: DesiredNode, appliedId: string): Buffer {
  const record: AppliedRecord = {
    format: APPLIED_RECORD_FORMAT,
    id: appliedId,
    node: { role: desired.role, hostname: desired.hostname },
    site: { file: posix.basename(o.loaded.file.replace(/\\/g, '/')), sha256: o.loaded.sha256 },
    appliedAt: (o.now ?? (() => new Date()))().toISOString(),
    obsbuild: o.obsbuildVersion,
    files: appliedFiles(desired),
  };
  return Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
}

export async function applyToBox(shell: BoxShell, o: ApplyOptions): Promise<ApplyResult> {
  const deps: ApplyDeps = { ...defaultApplyDeps(), ...o.deps };
  const log = o.log ?? (() => {});
  const who = o.target;

  // The box's own base files are needed to render the desired files (only root's hash in /etc/shadow is the
  // site's; owners are the box's uids and gids; /etc/localtime is the box's zone file).
  const reads = boxBaseReads(o.loaded.site);
  const rendered = desiredNode(o.loaded, o.node);
  const paths = [...new Set([...rendered.files.map((f) => f.path), ...reads.paths, APPLIED_RECORD_PATH])];
  const box = await deps.readFiles(shell, paths, who);
  const links = await deps.readLinks(shell, (rendered.links ?? []).map((l) => l.path), who);
  if (box.get(SHADOW_PATH)?.truncated) throw new UserError(`${who}: ${SHADOW_PATH} is bigger than can be read; not applying`, { code: 'box-failed' });
  const base = await boxBase(o.loaded.site, box, async (c) => (await shell.run(c, { timeoutMs: 30_000 })).stdout, who);
  const desired = desiredNode(o.loaded, o.node, base);
  const appliedId = appliedConfigId(desired, o.loaded.sha256);
  const plan = planApply(desired, box, await sessionOf(shell, o.transport), links);
  o.onPlan?.(plan);

  const steps: ApplyStep[] = [];
  const result = (outcome: ApplyOutcome, summary: string, exitCode: number, extra: Partial<ApplyResult> = {}): ApplyResult => ({
    target: who,
    outcome,
    plan,
    steps,
    previousDir: null,
    verify: null,
    rollbackVerify: null,
    appliedId,
    summary,
    exitCode,
    ...extra,
  });

  if (plan.refusals.length) {
    return result('refused', `refused, nothing changed on ${who}: ${plan.refusals.map((r) => `${r.path}: ${r.reason}`).join('; ')}`, 1);
  }
  if (plan.changes.length === 0) {
    log('no changes: the box already has every file as the site says; verifying');
    // Every file matches, but the record may name an older config (an edit of the site file that changes no
    // file, or a change of the box's own base files): record what is live now, or verify would keep asking
    // for an apply that has nothing left to do. A box without a record stays "as installed".
    const recorded = parseAppliedRecord(box.get(APPLIED_RECORD_PATH) ?? null).record;
    if (recorded && recorded.id !== appliedId && !o.dryRun) {
      try {
        await shell.putFile(APPLIED_RECORD_PATH, appliedRecordBytes(o, desired, appliedId), 0o644);
        steps.push({ step: 'record', ok: true, detail: `${APPLIED_RECORD_PATH}: id ${appliedId} (was ${recorded.id}; no file changed)` });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        steps.push({ step: 'record', ok: false, detail: why });
        return result('failed-before-write', `no file to change on ${who}, but recording config ${appliedId} failed: ${why}`, 1);
      }
    }
    const v = await deps.verify(shell, { loaded: o.loaded, node: o.node, log, target: who });
    steps.push({ step: 'verify', ok: v.passed, detail: failedChecks(v) });
    return result('no-changes', `no changes on ${who}; verify ${v.passed ? 'passed' : `failed: ${failedChecks(v)}`}`, v.passed ? 0 : 1, { verify: v });
  }
  if (o.dryRun) return result('dry-run', `dry run: ${plan.changes.length} file(s) would change on ${who}; nothing written`, 0);
  if (!o.yes) {
    if (!o.confirm) throw new UserError('apply needs --yes when it cannot ask (standard input is not a terminal)', { code: 'target-refused' });
    if (!(await o.confirm(plan))) return result('declined', `not applied: nothing changed on ${who}`, 1);
  }

  // Keep what is replaced, on the box, before anything is written.
  const previousDir = `${PREVIOUS_FILES_DIR}/${previousStamp((o.now ?? (() => new Date()))())}`;
  const replaced = plan.changes.filter((c) => c.kind === 'modify');
  const created = [...new Set(plan.changes.filter((c) => c.kind === 'create').map((c) => posix.dirname(c.path)))];
  const backupCmd = [
    `mkdir -p ${shQuote(previousDir)}`,
    // a new file's directory may not exist yet (root's .ssh must stay private to sshd)
    ...created.map((d) => `mkdir -p ${d === ROOT_SSH_DIR ? '-m 700 ' : ''}${shQuote(d)}`),
    // -P: a symlink is kept as the link it is, not as what it points to
    ...replaced.map((c) => `mkdir -p ${shQuote(previousDir + posix.dirname(c.path))} && cp -Pp ${shQuote(c.path)} ${shQuote(previousDir + c.path)}`),
  ].join(' && ');
  const b = await shell.run(backupCmd, { timeoutMs: 60_000 });
  steps.push({ step: 'backup', ok: b.exitCode === 0, detail: b.exitCode === 0 ? `${replaced.length} file(s) kept in ${previousDir}` : `exit status ${b.exitCode}: ${b.stdout.trim().slice(-300)}` });
  if (b.exitCode !== 0) return result('failed-before-write', `could not keep the previous files in ${previousDir}; nothing written on ${who}`, 1);

  // What the balancer looked like before: a rollback must bring exactly this back.
  const balancerBefore = plan.activations.some((a) => a.kind === 'keepalived-reload' || a.kind === 'ipvsadm-restore') ? await readBalancerSnapshot(shell) : null;
  const actx = {
    site: o.loaded.site,
    role: desired.role,
    previousKeepalivedConf: box.get(KEEPALIVED_CONF_PATH)?.bytes.toString('utf8') ?? null,
    clock: o.clock,
    log,
    keepalivedTimeoutMs: o.keepalivedTimeoutMs,
  };
  const written: string[] = [];
  let failure: string | null = null;
  let verify: VerifyReportLike | null = null;
  for (const c of plan.changes) {
    try {
      written.push(c.path); // putFile is atomic: after a failure the path holds the old or the new file; restore it either way
      if (c.type === 'symlink') await makeLink(shell, c.path, c.bytes.toString('utf8'));
      else await shell.putFile(c.path, c.bytes, c.mode, c.owner);
      steps.push({ step: 'write', ok: true, detail: `${c.path} (${c.kind}${c.type === 'symlink' ? ' symlink' : ''})` });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      steps.push({ step: 'write', ok: false, detail: `${c.path}: ${why}` });
      failure = `writing ${c.path} failed: ${why}`;
      break;
    }
  }
  if (!failure) {
    const outcome = await activateAll(shell, plan.activations, actx, steps, 'activate');
    if (outcome) failure = `activation ${outcome.activation.kind} failed: ${outcome.detail}`;
  }
  if (!failure) {
    verify = await verifySafely(deps, shell, { loaded: o.loaded, node: o.node, log, target: who });
    steps.push({ step: 'verify', ok: verify.passed, detail: verify.passed ? 'every check passed' : failedChecks(verify) });
    if (!verify.passed) failure = `verify failed after the change: ${failedChecks(verify)}`;
  }
  if (!failure) {
    try {
      await shell.putFile(APPLIED_RECORD_PATH, appliedRecordBytes(o, desired, appliedId), 0o644);
      steps.push({ step: 'record', ok: true, detail: `${APPLIED_RECORD_PATH}: id ${appliedId}` });
      return result('applied', `applied ${plan.changes.length} file(s) to ${who}; verified; applied config ${appliedId}; previous files in ${previousDir}`, 0, { previousDir, verify });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      steps.push({ step: 'record', ok: false, detail: why });
      failure = `writing ${APPLIED_RECORD_PATH} failed: ${why}`;
    }
  }

  // Roll back: the previous files (or none, for created ones), their activations, and verify again.
  log(`${failure}; rolling back`);
  const back = plan.changes.filter((c) => written.includes(c.path));
  const restoreCmd = back
    .map((c) =>
      c.kind === 'modify'
        ? `cp -Pp ${shQuote(previousDir + c.path)} ${shQuote(`${c.path}.obsbuild-restore`)} && mv -Tf ${shQuote(`${c.path}.obsbuild-restore`)} ${shQuote(c.path)}`
        : `rm -f ${shQuote(c.path)}`,
    )
    .join(' && ');
  let r: { exitCode: number; stdout: string };
  try {
    r = await shell.run(restoreCmd, { timeoutMs: 60_000 });
  } catch (err) {
    r = { exitCode: -1, stdout: err instanceof Error ? err.message : String(err) };
  }
  const restored = r.exitCode === 0;
  steps.push({
    step: 'restore',
    ok: restored,
    detail: restored ? `put back ${back.map((c) => `${c.path}${c.kind === 'create' ? ' (removed, it was new)' : ''}`).join(', ')} from ${previousDir}` : `exit status ${r.exitCode}: ${r.stdout.trim().slice(-300)}`,
  });
  const failedAgain = await activateAll(shell, plan.activations, { ...actx, restoreTo: balancerBefore ?? undefined }, steps, 'reactivate', true);
  // verify checks against the new site file, which the box no longer follows: after a rollback its drift
  // and applied-config checks fail by design. Whether the rollback worked is the restore and the
  // reactivations, whose balancer check compares with the table read before the apply.
  const rv = await verifySafely(deps, shell, { loaded: o.loaded, node: o.node, log, target: who });
  steps.push({ step: 'reverify', ok: rv.passed, detail: rv.passed ? 'every check passed' : `against the new site file (expected to differ after a rollback): ${failedChecks(rv)}` });
  const clean = restored && !failedAgain;
  return result(
    clean ? 'rolled-back' : 'rollback-failed',
    clean
      ? `${failure}; rolled back: previous files restored from ${previousDir} and reactivated; the box runs its previous config`
      : `${failure}; ROLLBACK INCOMPLETE: ${restored ? `reactivation failed: ${failedAgain!.detail}` : 'restoring the previous files failed'}; the previous files are in ${previousDir} on the box`,
    1,
    { previousDir, verify, rollbackVerify: rv },
  );
}

/**
 * Points `path` at `target` in one rename: a link made beside it, then moved over whatever is there (-T: a
 * symlink to a directory at `path` is replaced, not entered), so the path is the old entry or the new link.
 */
async function makeLink(shell: BoxShell, path: string, target: string): Promise<void> {
  const tmp = `${path}.obsbuild-link`;
  const r = await shell.run(`rm -f ${shQuote(tmp)} && ln -s -- ${shQuote(target)} ${shQuote(tmp)} && mv -Tf ${shQuote(tmp)} ${shQuote(path)}`, { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`making the symlink failed (exit status ${r.exitCode}): ${r.stdout.trim().slice(-300)}`);
}

/**
 * A verify that could not run (the link dropped, the box's output unreadable) is a failed verify: after the
 * first write anything that goes wrong must lead to the rollback, never leave the box half-applied.
 */
async function verifySafely(deps: ApplyDeps, shell: BoxShell, call: Parameters<ApplyDeps['verify']>[1]): Promise<VerifyReportLike> {
  try {
    return await deps.verify(shell, call);
  } catch (err) {
    return { checks: [{ name: 'verify could run', status: 'fail', evidence: err instanceof Error ? err.message : String(err) }], passed: false };
  }
}

function failedChecks(v: VerifyReportLike): string {
  const bad = v.checks.filter((c) => c.status === 'fail');
  return bad.length ? bad.map((c) => `${c.name}: ${c.evidence}`).join('; ') : 'every check passed';
}

/** Runs activations in order; stops at the first failure unless `all` (a rollback tries every one). */
async function activateAll(
  shell: BoxShell,
  list: readonly Activation[],
  ctx: Parameters<typeof runActivation>[2],
  steps: ApplyStep[],
  step: 'activate' | 'reactivate',
  all = false,
): Promise<ActivationOutcome | null> {
  let first: ActivationOutcome | null = null;
  for (const a of list) {
    let out: ActivationOutcome;
    try {
      out = await runActivation(shell, a, ctx);
    } catch (err) {
      out = { activation: a, ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    steps.push({ step, ok: out.ok, detail: `${a.kind}: ${out.detail}` });
    if (!out.ok) {
      first ??= out;
      if (!all) break;
    }
  }
  return first;
}

/** What happened, step by step, for the terminal. */
export function formatApplyResult(r: ApplyResult): string {
  const out = r.steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'} ${s.step}: ${s.detail}`);
  out.push(`${r.exitCode === 0 ? '' : 'obsbuild: '}${r.summary}`);
  return `${out.join('\n')}\n`;
}
