/**
 * What apply needs from verify: reading the box's files and verifying the box after a change. Injected, so
 * apply's own tests can drive it with a fake box; the defaults are the real verify and file reader.
 */
import type { CheckResult } from '../console/checks.js';
import { verifyBox } from './verify.js';
import { readBoxFiles } from './box-files.js';
import { readBoxLinks, type BoxLink } from './box-links.js';
import type { BoxShell } from '../remote/box-shell.js';
import type { LoadedSite } from '../site/load.js';
import type { NodeRole } from '../site/model.js';
import type { BoxFileReading } from './plan.js';

/** The parts of verify's VerifyReport apply reads. */
export interface VerifyReportLike {
  checks: Pick<CheckResult, 'name' | 'status' | 'evidence'>[];
  passed: boolean;
}

export interface VerifyCall {
  loaded: LoadedSite;
  node?: NodeRole;
  log?: (line: string) => void;
  target?: string;
}

export interface ApplyDeps {
  verify: (shell: BoxShell, opts: VerifyCall) => Promise<VerifyReportLike>;
  /** Each path's file on the box, or null when there is none; one round trip for all. */
  readFiles: (shell: BoxShell, paths: readonly string[], who?: string) => Promise<Map<string, BoxFileReading | null>>;
  /** What is at each of the site's symlink paths on the box; one round trip, none for no paths. */
  readLinks: (shell: BoxShell, paths: readonly string[], who?: string) => Promise<Map<string, BoxLink>>;
}

export function defaultApplyDeps(): ApplyDeps {
  return {
    // The box's applied record still names the previous config until apply writes the new one.
    verify: (shell, o) => verifyBox(shell, { loaded: o.loaded, node: o.node, log: o.log, target: o.target, beforeRecord: true }),
    readFiles: readBoxFiles,
    readLinks: readBoxLinks,
  };
}
