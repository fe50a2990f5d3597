/**
 * What apply needs from verify: reading the box's files and verifying the box after a change. The verify
 * module (verify.ts / box-files.ts) provides both; until it is merged in, this file holds minimal stand-ins
 * with the same shapes, so apply compiles and runs on its own. At merge: make `defaultApplyDeps` return
 * `{ verify: (shell, o) => verifyBox(shell, o), readFiles: readBoxFiles }` and drop the stand-ins.
 */
import { runChecks, type CheckResult } from '../console/checks.js';
import type { BoxShell } from '../remote/box-shell.js';
import { shQuote } from '../remote/sh-quote.js';
import type { LoadedSite } from '../site/load.js';
import type { NodeRole } from '../site/model.js';
import { UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
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
}

/** Stand-in readFiles: one command, per path a header and its base64; bounded like the real one. */
const FILE_MAX_BYTES = 256 * 1024;
async function standInReadFiles(shell: BoxShell, paths: readonly string[], who = 'the box'): Promise<Map<string, BoxFileReading | null>> {
  const script = paths
    .map((p, i) => `if [ -f ${shQuote(p)} ]; then echo "@@f ${i} $(wc -c < ${shQuote(p)})"; head -c ${FILE_MAX_BYTES} < ${shQuote(p)} | base64; else echo "@@m ${i}"; fi`)
    .join('\n');
  const r = await shell.run(`${script}\necho @@end`, { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new UserError(`${who}: reading ${paths.length} file(s) failed with exit status ${r.exitCode}`);
  const out = new Map<string, BoxFileReading | null>();
  let current: { index: number; size: number; chunks: string[] } | null = null;
  const finish = () => {
    if (!current) return;
    const bytes = Buffer.from(current.chunks.join(''), 'base64');
    out.set(paths[current.index], { sha256: sha256Hex(bytes), size: current.size, bytes, truncated: bytes.length < current.size });
    current = null;
  };
  for (const line of r.stdout.split('\n')) {
    const f = /^@@f (\d+) (\d+)$/.exec(line);
    const m = /^@@m (\d+)$/.exec(line);
    if (f || m || line === '@@end') finish();
    if (f && Number(f[1]) < paths.length) current = { index: Number(f[1]), size: Number(f[2]), chunks: [] };
    else if (m && Number(m[1]) < paths.length) out.set(paths[Number(m[1])], null);
    else if (current && /^[A-Za-z0-9+/=]{1,76}$/.test(line)) current.chunks.push(line);
  }
  for (const p of paths) if (!out.has(p)) throw new UserError(`${who}: no answer for ${p} while reading files`);
  return out;
}

/** Stand-in verify: the console's post-boot checks over the shell. */
async function standInVerify(shell: BoxShell, o: VerifyCall): Promise<VerifyReportLike> {
  const checks = await runChecks(async (command) => {
    const r = await shell.run(command);
    return { command, exitCode: r.exitCode, output: r.stdout, durationMs: 0 };
  }, { site: o.loaded.site, manifestId: null, node: o.node });
  return { checks, passed: checks.every((c) => c.status !== 'fail') };
}

export function defaultApplyDeps(): ApplyDeps {
  return { verify: standInVerify, readFiles: standInReadFiles };
}
