/**
 * Which way a day-two command reaches the box, and opening that BoxShell: the serial console (the
 * console's login and marker shell) or SSH (the system's OpenSSH client). verify and apply see only BoxShell.
 */
import type { BoxShell } from '../remote/box-shell.js';
import { openSshShell } from '../remote/ssh.js';
import { describeTarget, type SshTarget } from '../remote/ssh-options.js';
import { openSerialShell } from './serial-shell.js';

export interface SshBoxTarget {
  kind: 'ssh';
  target: SshTarget;
  /** obsbuild's known_hosts for this box (absolute); the console records the box's key there at first login. */
  knownHostsFile: string;
  /** The name the key is recorded under (the node's hostname), so an address or forwarded port does not matter. */
  hostKeyAlias?: string;
  acceptNewHostKey: boolean;
  identityFile?: string;
  /** `-F`: tests pass 'none' to be independent of $HOME. */
  configFile?: string;
}

export interface SerialBoxTarget {
  kind: 'serial';
  /** A device path or pty. */
  port: string;
  baud: number;
  user: string;
  password: string;
  /** Where the session's transcript goes (password masked); none when omitted. */
  transcriptFile?: string;
}

export type BoxTarget = SshBoxTarget | SerialBoxTarget;

export function describeBoxTarget(t: BoxTarget): string {
  return t.kind === 'serial' ? `serial ${t.port}` : describeTarget(t.target);
}

export async function openBoxShell(t: BoxTarget, log: (line: string) => void): Promise<BoxShell> {
  if (t.kind === 'ssh') {
    return openSshShell({
      target: t.target,
      knownHostsFile: t.knownHostsFile,
      hostKeyAlias: t.hostKeyAlias,
      acceptNewHostKey: t.acceptNewHostKey,
      identityFile: t.identityFile,
      configFile: t.configFile,
      onNotice: log,
    });
  }
  return openSerialShell({ port: t.port, baud: t.baud, user: t.user, password: t.password, transcriptFile: t.transcriptFile, log });
}
