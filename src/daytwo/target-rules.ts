/**
 * The rules that turn "how to reach this box" into a BoxTarget, shared by the --port/--host options of one
 * box and by an inventory of many: defaults (root, the console's recorded known_hosts under the node's
 * hostname; the baud rate and its check are the console port's, src/console/port.ts) and the checks on values. Callers parse their own syntax and name their own source in
 * errors; the checks here return problems as text for that reason.
 */
import { join, resolve } from 'node:path';
import type { SshTarget } from '../remote/ssh-options.js';
import type { BoxTarget } from './transport.js';

/** Who logs in unless told otherwise (--user on the serial console, user@host over SSH). */
export const DEFAULT_LOGIN_USER = 'root';

export type BoxTargetSpec =
  | { kind: 'serial'; port: string; baud: number; user: string; password?: string }
  | {
      kind: 'ssh';
      target: SshTarget;
      /** Relative paths are taken from the current directory; callers with another base resolve first. */
      knownHostsFile?: string;
      identityFile?: string;
      acceptNewHostKey: boolean;
    };

/** `hostname` names the node, for the default known_hosts file and the host key alias. */
export function boxTargetFromSpec(spec: BoxTargetSpec, ctx: { outDir: string; hostname: string }): BoxTarget {
  if (spec.kind === 'serial') {
    return { kind: 'serial', port: spec.port, baud: spec.baud, user: spec.user, password: spec.password ?? process.env.OBSBUILD_ROOT_PASSWORD ?? 'root' };
  }
  return {
    kind: 'ssh',
    target: spec.target.user === undefined ? { ...spec.target, user: DEFAULT_LOGIN_USER } : spec.target,
    knownHostsFile: resolve(spec.knownHostsFile ?? join(ctx.outDir, ctx.hostname, 'known_hosts')),
    hostKeyAlias: ctx.hostname,
    acceptNewHostKey: spec.acceptNewHostKey,
    identityFile: spec.identityFile === undefined ? undefined : resolve(spec.identityFile),
  };
}
