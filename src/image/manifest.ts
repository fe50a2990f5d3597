import { createHash } from 'node:crypto';
import { fileBytes, sortFiles, type GeneratedFile } from '../contracts/generated-file.js';
import { sha256Hex } from '../util/hash.js';
import { MANIFEST_FORMAT, MANIFEST_ID_HEX, type Manifest, type ManifestFile, type ManifestIdentity, type ManifestOutput } from '../contracts/manifest.js';

/**
 * manifest.json: what went into one appliance's build and what came out. `obsbuild console` compares
 * `id` with /etc/obsbuild/manifest-id on the box.
 *
 * The id is not circular: it is the sha256 of the canonical JSON of `identity` (obsbuild's version, the
 * epoch, the node, the site file's hash, every input, every package, and every generated configuration
 * file), all known before the overlay is written. Files that carry the id themselves (the first-boot
 * script, /etc/obsbuild/manifest-id) and the outputs are listed in the manifest but not hashed into it.
 */

export function describeFile(f: GeneratedFile): ManifestFile {
  const type = f.type ?? 'file';
  const entry: ManifestFile = {
    path: f.path,
    type,
    mode: (f.mode & 0o7777).toString(8).padStart(4, '0'),
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
    size: 0,
  };
  if (type === 'symlink') entry.linkTarget = f.linkTarget ?? String(f.content);
  if (type === 'file') {
    const bytes = fileBytes(f);
    entry.size = bytes.length;
    entry.sha256 = sha256Hex(bytes);
  }
  return entry;
}

export function describeFiles(files: readonly GeneratedFile[]): ManifestFile[] {
  return sortFiles(files).map(describeFile);
}

/** JSON with object keys sorted at every level: the same data always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function byKey<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

/** Lists sorted so the id does not depend on discovery order. */
export function normalizeIdentity(identity: ManifestIdentity): ManifestIdentity {
  return {
    ...identity,
    inputs: [...identity.inputs].sort(byKey((i) => `${i.role}\0${i.name}`)),
    packages: [...identity.packages].sort(byKey((p) => `${p.name}\0${p.version}`)),
    config: [...identity.config].sort(byKey((f) => f.path)),
  };
}

export function manifestId(identity: ManifestIdentity): string {
  return createHash('sha256').update(canonicalJson(normalizeIdentity(identity))).digest('hex').slice(0, MANIFEST_ID_HEX);
}

export function buildManifest(identity: ManifestIdentity, generated: readonly GeneratedFile[], outputs: ManifestOutput[]): Manifest {
  const normal = normalizeIdentity(identity);
  return {
    format: MANIFEST_FORMAT,
    id: manifestId(normal),
    ...normal,
    generated: describeFiles(generated),
    outputs: [...outputs].sort(byKey((o) => o.path)),
  };
}

/** Pretty, key-ordered, newline-terminated: stable bytes for SHA256SUMS and diffs. */
export function formatManifest(m: Manifest): string {
  const { format, id, obsbuild, profile, sourceDateEpoch, epochSource, node, site, inputs, packages, config, generated, outputs } = m;
  const ordered = { format, id, obsbuild, profile, sourceDateEpoch, epochSource, node, site, inputs, packages, config, generated, outputs };
  return JSON.stringify(ordered, null, 2) + '\n';
}
