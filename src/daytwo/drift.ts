/**
 * Drift: the node's obsbuild-owned files as the site file renders them, against the box's copies. A drifted
 * file is shown as a unified diff (box -> site), except /etc/shadow, whose content is a secret.
 */
import { fileBytes, type GeneratedFile } from '../contracts/generated-file.js';
import type { Manifest } from '../contracts/manifest.js';
import type { AppliedRecord } from '../contracts/applied-record.js';
import { DEBCONF_SELECTIONS_PATH, SHADOW_PATH } from '../contracts/box-paths.js';
import { sha256Hex } from '../util/hash.js';
import { DIFF_MAX_BYTES, unifiedDiff } from '../util/unified-diff.js';
import type { BoxFile, FileMeta } from './box-files.js';
import type { BoxLink } from './box-links.js';

export interface DriftEntry {
  path: string;
  state: 'same' | 'drifted' | 'missing';
  expectedSha256: string;
  boxSha256: string | null;
  /** For a drifted file: a unified diff from the box's copy to the site's, or one line saying why not. */
  diff?: string;
}

/** A file an earlier build or apply owned that the site no longer renders, still on the box: information, not a failure. */
export interface LeftoverFile {
  path: string;
  boxSha256: string;
  /** Who put it there: the install (the manifest lists it) or an apply (the applied record lists it). */
  from: 'manifest' | 'applied';
}

/** Files whose content is a secret: drift is reported, the content never. */
const SECRET_PATHS: ReadonlySet<string> = new Set([SHADOW_PATH]);

/** Install-time files listed in the manifest that nothing keeps up to date afterwards: never leftovers. */
const INSTALL_ONLY_PATHS: ReadonlySet<string> = new Set([DEBCONF_SELECTIONS_PATH]);

export function secretDiff(path: string): string {
  return `${path}: differs (diff not shown: secret)\n`;
}

/**
 * How the box's mode and owner differ from the desired file's, as one line, or null. Not known on the box, or
 * an owner the desired file does not fix (a name not resolved against the box): not compared.
 */
export function metaDifference(f: GeneratedFile, meta: FileMeta | undefined): string | null {
  if (!meta) return null;
  const oct = (m: number) => `0${m.toString(8)}`;
  const want = f.mode & 0o7777;
  const parts: string[] = [];
  if (meta.mode !== want) parts.push(`mode ${oct(meta.mode)} on the box, ${oct(want)} wanted`);
  if (f.uid !== undefined && f.gid !== undefined && (meta.uid !== f.uid || meta.gid !== f.gid)) {
    parts.push(`owner ${meta.uid}:${meta.gid} on the box, ${f.uid}:${f.gid} wanted`);
  }
  return parts.length ? `${f.path}: ${parts.join('; ')}\n` : null;
}

/** Each desired file against the box's copy (null: no regular file there): content, then mode and owner. */
export function compareFiles(desired: readonly GeneratedFile[], box: ReadonlyMap<string, BoxFile | null>): DriftEntry[] {
  return desired.map((f) => {
    const want = fileBytes(f);
    const expectedSha256 = sha256Hex(want);
    const have = box.get(f.path) ?? null;
    if (!have) return { path: f.path, state: 'missing', expectedSha256, boxSha256: null };
    const meta = metaDifference(f, have.meta) ?? '';
    if (have.sha256 === expectedSha256) {
      return meta ? { path: f.path, state: 'drifted', expectedSha256, boxSha256: have.sha256, diff: meta } : { path: f.path, state: 'same', expectedSha256, boxSha256: have.sha256 };
    }
    const diff = SECRET_PATHS.has(f.path)
      ? secretDiff(f.path)
      : have.truncated
        ? `${f.path}: larger than ${DIFF_MAX_BYTES} bytes on the box (${have.size} bytes), diff not shown\n`
        : unifiedDiff(f.path, have.bytes, want);
    return { path: f.path, state: 'drifted', expectedSha256, boxSha256: have.sha256, diff: meta + diff };
  });
}

/** A link's identity in a drift entry: the SHA-256 of its target, so a JSON reader can tell two targets apart. */
export function linkSha256(target: string): string {
  return sha256Hex(Buffer.from(`symlink:${target}`, 'utf8'));
}

/** How the box's entry at a symlink's path differs from the site's symlink, as one line, or null when it does not. */
export function linkDifference(want: GeneratedFile, have: BoxLink): string | null {
  const target = want.linkTarget ?? '';
  if (have.kind === 'symlink') return have.target === target ? null : `${want.path}: a symlink to ${JSON.stringify(have.target)} on the box, to ${JSON.stringify(target)} wanted\n`;
  if (have.kind === 'dir') return `${want.path}: a directory on the box, a symlink to ${JSON.stringify(target)} wanted\n`;
  if (have.kind === 'other') return `${want.path}: a file on the box, a symlink to ${JSON.stringify(target)} wanted\n`;
  return `${want.path}: missing on the box, a symlink to ${JSON.stringify(target)} wanted\n`;
}

/** Each of the site's symlinks against what is at its path on the box (absent from `box`: not read, missing). */
export function compareLinks(desired: readonly GeneratedFile[], box: ReadonlyMap<string, BoxLink>): DriftEntry[] {
  return desired.map((f) => {
    const have = box.get(f.path) ?? { kind: 'missing' as const };
    const expectedSha256 = linkSha256(f.linkTarget ?? '');
    const boxSha256 = have.kind === 'symlink' ? linkSha256(have.target) : null;
    const diff = linkDifference(f, have);
    if (diff === null) return { path: f.path, state: 'same', expectedSha256, boxSha256 };
    return { path: f.path, state: have.kind === 'missing' ? 'missing' : 'drifted', expectedSha256, boxSha256, diff };
  });
}

/**
 * Regular files the install's manifest or the last apply listed that the site no longer renders (say
 * keepalived.conf after the site switched to manager ipvsadm) and that are still on the box.
 */
export function leftoverFiles(
  desired: readonly GeneratedFile[],
  box: ReadonlyMap<string, BoxFile | null>,
  manifest: Pick<Manifest, 'config'> | null | undefined,
  applied: Pick<AppliedRecord, 'files'> | null | undefined,
): LeftoverFile[] {
  const wanted = new Set(desired.map((f) => f.path));
  const seen = new Set<string>();
  const out: LeftoverFile[] = [];
  const consider = (path: string, from: LeftoverFile['from']) => {
    if (wanted.has(path) || INSTALL_ONLY_PATHS.has(path) || seen.has(path)) return;
    seen.add(path);
    const have = box.get(path);
    if (have) out.push({ path, boxSha256: have.sha256, from });
  };
  for (const f of manifest?.config ?? []) if (f.type === 'file') consider(f.path, 'manifest');
  for (const f of applied?.files ?? []) consider(f.path, 'applied');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Paths worth reading for leftovers: what the manifest and the applied record list, minus install-only files. */
export function leftoverCandidates(manifest: Pick<Manifest, 'config'> | null | undefined, applied: Pick<AppliedRecord, 'files'> | null | undefined): string[] {
  const paths = [...(manifest?.config ?? []).filter((f) => f.type === 'file').map((f) => f.path), ...(applied?.files ?? []).map((f) => f.path)];
  return [...new Set(paths)].filter((p) => !INSTALL_ONLY_PATHS.has(p));
}
