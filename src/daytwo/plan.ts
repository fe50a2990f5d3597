/**
 * What `apply` would do to a box: each of the node's files that differs from the box's copy (created or
 * modified, with a unified diff; /etc/shadow never shown), how each change is made live (activation.ts),
 * and the changes refused on a live box with what to do instead. A refusal refuses the whole apply.
 */
import type { FileOwner } from '../remote/box-shell.js';
import { fileBytes, type GeneratedFile } from '../contracts/generated-file.js';
import { INTERFACES_PATH, IPVSADM_RULES_PATH, KEEPALIVED_CONF_PATH, SHADOW_PATH } from '../contracts/box-paths.js';
import { sha256Hex } from '../util/hash.js';
import { unifiedDiff } from '../util/unified-diff.js';
import { ACTIVATION_RULES, SITE_FILE_RULE, changedInterfaces, describeActivation, deviceOf, orderActivations, type Activation } from './activation.js';
import type { DesiredNode } from './desired.js';
import { NTP_DAEMONS } from '../site/services.js';
import type { FileMeta } from './box-files.js';
import type { BoxLink } from './box-links.js';
import { linkDifference, linkSha256, metaDifference } from './drift.js';

/** What apply needs of a box file (the shape the verify helper's readBoxFiles returns). */
export interface BoxFileReading {
  sha256: string;
  size: number;
  bytes: Buffer;
  /** Only a prefix was transferred: compare by sha256, no diff. */
  truncated: boolean;
  /** Mode and numeric owner on the box, when known. */
  meta?: FileMeta;
}

export interface PlanChange {
  path: string;
  kind: 'create' | 'modify';
  /** A symlink of the site's files: (its target is `bytes`); absent for a regular file. */
  type?: 'symlink';
  /** Unified diff box -> site; null for a secret (/etc/shadow) or when the box's copy was too big to send. */
  diff: string | null;
  activation: Activation;
  /** What to write. */
  bytes: Buffer;
  mode: number;
  /** Numeric owner, as the desired file gives it (root when it names none). */
  owner: FileOwner;
  sha256: string;
}

export interface Refusal {
  path: string;
  reason: string;
  instead: string;
}

export interface Plan {
  changes: PlanChange[];
  /** Ordered, deduplicated; `none` left out. */
  activations: Activation[];
  refusals: Refusal[];
  /** Paths already as the site says. */
  unchanged: string[];
}

/** How apply reaches the box: over SSH it must not cut the branch it sits on. */
export type Session =
  | { transport: 'serial' }
  /** `label`: the logical interface holding the box's end of the SSH session (null: could not tell). */
  | { transport: 'ssh'; address: string | null; label: string | null };

const SECRET_PATHS = new Set([SHADOW_PATH]);
const NTP_CONFIG_PATHS: ReadonlySet<string> = new Set(Object.values(NTP_DAEMONS).map((d) => d.config));

/** `links`: what is at each of the site's symlink paths on the box (readBoxLinks); not read means missing. */
export function planApply(desired: DesiredNode, box: ReadonlyMap<string, BoxFileReading | null>, session: Session, links: ReadonlyMap<string, BoxLink> = new Map()): Plan {
  const changes: PlanChange[] = [];
  const refusals: Refusal[] = [];
  const unchanged: string[] = [];
  const own = new Set(desired.ownPaths);
  for (const f of desired.files) {
    const bytes = fileBytes(f);
    const sha256 = sha256Hex(bytes);
    const have = box.get(f.path) ?? null;
    // the right bytes with the wrong mode or owner (a hand chmod of /etc/shadow) are a change too
    const meta = have ? metaDifference(f, have.meta) : null;
    if (have && have.sha256 === sha256 && !meta) {
      unchanged.push(f.path);
      continue;
    }
    const rule = ACTIVATION_RULES.get(f.path) ?? (own.has(f.path) ? SITE_FILE_RULE : undefined);
    if (!rule) {
      refusals.push({ path: f.path, reason: 'obsbuild knows no safe way to make a change to this file live', instead: 'reinstall the box (obsbuild image, flash, console)' });
      continue;
    }
    const diff =
      have && have.sha256 === sha256 ? meta : SECRET_PATHS.has(f.path) ? meta : have?.truncated ? null : (meta ?? '') + unifiedDiff(f.path, have?.bytes ?? Buffer.alloc(0), bytes);
    const change: PlanChange = { path: f.path, kind: have ? 'modify' : 'create', diff, activation: { kind: rule.kind }, bytes, mode: f.mode, owner: { uid: f.uid ?? 0, gid: f.gid ?? 0 }, sha256 };
    const refusal = refuse(f, have, session, change);
    if (refusal) refusals.push(refusal);
    changes.push(change);
  }
  for (const l of desired.links ?? []) {
    const have = links.get(l.path) ?? { kind: 'missing' as const };
    const diff = linkDifference(l, have);
    if (diff === null) {
      unchanged.push(l.path);
      continue;
    }
    const target = l.linkTarget ?? '';
    if (have.kind === 'dir') {
      refusals.push({ path: l.path, reason: 'a directory is where the site wants a symlink: apply does not remove a directory on a live box', instead: 'move the directory away on the box, then apply again' });
      continue;
    }
    changes.push({
      path: l.path,
      kind: have.kind === 'missing' ? 'create' : 'modify',
      type: 'symlink',
      diff,
      activation: { kind: SITE_FILE_RULE.kind },
      bytes: Buffer.from(target, 'utf8'),
      mode: 0o777,
      owner: { uid: 0, gid: 0 },
      sha256: linkSha256(target),
    });
  }
  const activations = orderActivations(changes.map((c) => c.activation).filter((a) => a.kind !== 'none'));
  return { changes, activations, refusals, unchanged };
}

/** Refuses what cannot be done safely on a live box; fills in the interfaces to cycle otherwise. */
function refuse(f: GeneratedFile, have: BoxFileReading | null, session: Session, change: PlanChange): Refusal | null {
  if (!have && (f.path === KEEPALIVED_CONF_PATH || f.path === IPVSADM_RULES_PATH)) {
    return {
      path: f.path,
      reason: 'the box does not run this balancer manager yet (lvs.manager changed): stopping one manager and starting the other is not done on a live box',
      instead: 'reinstall the box with the new site file (obsbuild image, flash, console)',
    };
  }
  // the NTP package puts its config there when it is installed: none means ntp: came after the install
  if (!have && NTP_CONFIG_PATHS.has(f.path)) {
    return {
      path: f.path,
      reason: 'the box has no NTP daemon (ntp: was added after the install): a restart after writing its config could only fail',
      instead: 'reinstall the box with the new site file (obsbuild image, flash, console), which layers the NTP package in',
    };
  }
  if (f.path !== INTERFACES_PATH) return null;
  if (have?.truncated) {
    return { path: f.path, reason: 'the box\'s copy is too big to compare stanza by stanza', instead: 'reinstall the box' };
  }
  const ifs = changedInterfaces(have ? have.bytes.toString('utf8') : '', fileBytes(f).toString('utf8'));
  change.activation = { kind: 'interfaces', interfaces: ifs };
  if (session.transport !== 'ssh' || ifs.length === 0) return null;
  const instead = 'apply over the serial console (--port) or reinstall';
  if (session.label === null) {
    return {
      path: f.path,
      reason: `interfaces ${ifs.join(', ')} change and the interface carrying this SSH session${session.address ? ` (${session.address})` : ''} could not be found on the box`,
      instead,
    };
  }
  // cycling a device takes all its addresses down, so the session's device counts as well as its label
  const label = session.label;
  const hit = ifs.find((i) => i === label || i === deviceOf(label));
  if (hit) {
    return {
      path: f.path,
      reason: `an address of ${hit} changes, and ${session.label} carries this SSH session (${session.address}): ifdown would cut it mid-apply`,
      instead,
    };
  }
  return null;
}

/** The plan as a person reads it before saying yes: files with their diffs, activations, refusals. */
export function formatPlan(plan: Plan, target: string): string {
  const out: string[] = [];
  if (plan.changes.length === 0 && plan.refusals.length === 0) return `Plan for ${target}: no changes (${plan.unchanged.length} file(s) already as the site says)\n`;
  out.push(`Plan for ${target}: ${plan.changes.length} file(s) to change, ${plan.unchanged.length} unchanged`);
  for (const c of plan.changes) {
    out.push('', `${c.kind === 'create' ? 'create' : 'modify'} ${c.path}  (activation: ${c.activation.kind})`);
    if (c.diff === null) out.push(c.path === SHADOW_PATH ? '  (secret: root\'s password hash changes, diff not shown)' : '  (the box\'s copy is too big to send, diff not shown)');
    else out.push(c.diff.trimEnd());
  }
  out.push('', 'Activations, in order:');
  if (plan.activations.length === 0) out.push('  none (every changed file is read when used)');
  for (const a of plan.activations) out.push(`  ${a.kind}: ${describeActivation(a)}`);
  if (plan.refusals.length) {
    out.push('', 'REFUSED (nothing will be changed):');
    for (const r of plan.refusals) out.push(`  ${r.path}: ${r.reason}; instead: ${r.instead}`);
  }
  return `${out.join('\n')}\n`;
}
