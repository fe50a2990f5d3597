/**
 * /etc/obsbuild/applied.json: what `obsbuild apply` last made live on a box. The install's manifest says
 * what the box was built with; once a change is applied that manifest is stale for the files apply owns,
 * and this record says what they are meant to be now. `verify` reads it; only `apply` writes it.
 */

export const APPLIED_RECORD_FORMAT = 1;
/** The record is a few kilobytes; a box-side file bigger than this is not ours. */
export const APPLIED_RECORD_MAX_BYTES = 1024 * 1024;

export interface AppliedFile {
  /** Absolute path on the box. */
  path: string;
  sha256: string;
}

export interface AppliedRecord {
  format: number;
  /** Hash over node, site sha256 and the files below (the applied config's id; see daytwo/desired.ts). */
  id: string;
  node: { role: 'single' | 'master' | 'backup'; hostname: string };
  site: { file: string; sha256: string };
  /** UTC, ISO 8601. */
  appliedAt: string;
  /** obsbuild version that applied it. */
  obsbuild: string;
  files: AppliedFile[];
}
