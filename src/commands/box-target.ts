/**
 * The options every day-two command (verify, apply) takes to reach one box, and turning them into a
 * BoxTarget: exactly one of --port (serial console) and --host (SSH).
 */
import type { Command } from 'commander';
import { constants, accessSync, statSync } from 'node:fs';
import { parseHost } from '../remote/ssh-options.js';
import { UsageError, UserError } from '../util/errors.js';
import type { BoxTarget } from '../daytwo/transport.js';
import { boxTargetFromSpec, DEFAULT_LOGIN_USER } from '../daytwo/target-rules.js';
import { baudProblem, DEFAULT_BAUD } from '../console/port.js';

export interface BoxTargetOptions {
  port?: string;
  baud?: string;
  host?: string;
  user?: string;
  password?: string;
  identity?: string;
  knownHosts?: string;
  acceptNewHostKey?: boolean;
}

export function addBoxTargetOptions(cmd: Command): Command {
  return cmd
    .option('--port <path>', 'reach the box over its serial console (a device path or pty)')
    .option('--baud <rate>', `serial baud rate, 8N1, no flow control (default ${DEFAULT_BAUD})`)
    .option('--host <[user@]host[:port]>', 'reach the box over SSH (the system\'s OpenSSH client)')
    .option('--user <name>', `serial login user (default ${DEFAULT_LOGIN_USER}; over SSH give user@host)`)
    .option('--password <pw>', 'serial login password (default $OBSBUILD_ROOT_PASSWORD, else the stock "root")')
    .option('--identity <file>', 'SSH: use this private key alone')
    .option('--known-hosts <file>', 'SSH: the known_hosts file to trust (default <out>/<hostname>/known_hosts, recorded by the console)')
    .option('--accept-new-host-key', 'SSH: trust and record the host key the box offers on first contact (a changed key is still refused)');
}

/** `hostname` names the node, for the default known_hosts file and the host key alias. */
export function boxTargetFromOptions(o: BoxTargetOptions, ctx: { outDir: string; hostname: string; hostArgument?: string }): BoxTarget {
  if ((o.port === undefined) === (o.host === undefined)) throw new UsageError('give exactly one of --port (serial console) and --host (SSH)');
  // An option of the other transport would be dropped without a word: say so instead.
  const sshOnly = [o.identity !== undefined && '--identity', o.knownHosts !== undefined && '--known-hosts', o.acceptNewHostKey && '--accept-new-host-key'].filter(Boolean);
  if (o.port !== undefined && sshOnly.length) throw new UsageError(`${sshOnly.join(', ')}: for --host (SSH); --port logs in on the serial console`);
  const serialOnly = [o.password !== undefined && '--password', o.user !== undefined && '--user', o.baud !== undefined && '--baud'].filter(Boolean);
  if (o.host !== undefined && serialOnly.length) throw new UsageError(`${serialOnly.join(', ')}: for --port (the serial console); over --host, give user@host and SSH uses keys (--identity)`);
  if (o.port !== undefined) {
    const baud = o.baud === undefined ? DEFAULT_BAUD : Number(o.baud);
    const problem = baudProblem(baud);
    if (problem) throw new UsageError(`--baud ${o.baud}: ${problem}`);
    return boxTargetFromSpec({ kind: 'serial', port: o.port, baud, user: o.user ?? DEFAULT_LOGIN_USER, password: o.password }, ctx);
  }
  if (o.identity !== undefined) checkIdentityFile(o.identity);
  const spec = { kind: 'ssh', target: parseHost(o.host!, ctx.hostArgument), knownHostsFile: o.knownHosts, identityFile: o.identity, acceptNewHostKey: o.acceptNewHostKey === true } as const;
  return boxTargetFromSpec(spec, ctx);
}

/** ssh would only say "authentication refused" for a key file it cannot read: name the file instead. */
function checkIdentityFile(file: string): void {
  let problem: string | undefined;
  try {
    if (!statSync(file).isFile()) problem = 'is not a file';
    else accessSync(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem ??= code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? String(err)})`;
  }
  if (problem) throw new UserError(`--identity ${file}: ${problem}`, { code: 'input-invalid' });
}
