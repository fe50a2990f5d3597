/**
 * The OpenSSH client's command line for one OpenBlockS 600 running Debian lenny (OpenSSH 5.1 server).
 *
 * lenny's sshd offers: host key ssh-rsa (SHA-1 signatures); kex diffie-hellman-group-exchange-sha256,
 * diffie-hellman-group14-sha1, diffie-hellman-group1-sha1; ciphers aes128-ctr, aes128-cbc, 3des-cbc (and
 * older); MACs hmac-sha1, hmac-md5. OpenSSH 9.2's client still enables diffie-hellman-group-exchange-sha256,
 * aes128-ctr and hmac-sha1 by default, so key exchange, cipher and MAC need nothing. What it no longer enables
 * is the SHA-1 `ssh-rsa` signature, needed twice: to accept the box's host key, and to sign with an RSA user
 * key (a 5.1 server sends no server-sig-algs, so the client falls back to `ssh-rsa` and skips the key unless
 * that is allowed; 5.1 knows no ECDSA or Ed25519 user keys). `+` appends to the defaults, so a box whose sshd
 * was upgraded still gets the modern algorithms first.
 *
 * The user's ~/.ssh/config is read (no `-F none`): a load balancer often sits behind a jump host, and
 * ProxyJump/ProxyCommand, User and IdentityFile for it belong there. Everything that decides correctness is
 * pinned here instead; ssh takes the first value it sees and the command line comes before any file.
 */
import { isAbsolute } from 'node:path';
import { UsageError, UserError } from '../util/errors.js';

/** The only algorithm additions lenny's server needs from OpenSSH 9.2's client, as `-o` values. */
export const LENNY_ALGORITHM_OPTIONS: readonly string[] = ['HostKeyAlgorithms=+ssh-rsa', 'PubkeyAcceptedAlgorithms=+ssh-rsa'];

/** Said once per job, when the connection opens: the options are on this host's command line only. */
export function legacyAlgorithmsNotice(target: SshTarget): string {
  return `${describeTarget(target)}: lenny's OpenSSH 5.1 signs only with SHA-1, so ssh-rsa host key and user key signatures are allowed for this host only`;
}

export interface SshTarget {
  /** Omitted: ssh's own rules (User in ~/.ssh/config, else the local user name). */
  user?: string;
  /** A host name, an IPv4 address, or an IPv6 address without brackets. */
  host: string;
  port: number;
}

export function describeTarget(t: SshTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `ssh ${t.user ? `${t.user}@` : ''}${host}${t.port === 22 ? '' : `:${t.port}`}`;
}

const MAX_HOST_SPEC = 300;
// Portable user names (POSIX), as adduser accepts them; never a leading '-' (it would read as an option).
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/;
const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]{2,45}(?:%[A-Za-z0-9._-]{1,32})?$/;
const PORT_RE = /^[1-9][0-9]{0,4}$/;

/** Parses `--host [user@]H[:port]` (H: a name, an IPv4 address, or `[IPv6]`) strictly. */
export function parseHost(spec: string, argument = '--host'): SshTarget {
  const bad = (why: string) => new UsageError(`${argument} ${JSON.stringify(spec.slice(0, 80))}: ${why}; expected [user@]host[:port]`);
  if (spec.length === 0 || spec.length > MAX_HOST_SPEC) throw bad(`must be 1 to ${MAX_HOST_SPEC} characters`);
  if (/[^\x21-\x7e]/.test(spec)) throw bad('contains a space or a character outside printable ASCII');
  const at = spec.indexOf('@');
  if (at !== spec.lastIndexOf('@')) throw bad("more than one '@'");
  let user: string | undefined;
  let rest = spec;
  if (at >= 0) {
    user = spec.slice(0, at);
    rest = spec.slice(at + 1);
    if (!USER_RE.test(user)) throw bad(`user ${JSON.stringify(user)} is not a user name (letters, digits, '.', '_', '-'; not starting with '-')`);
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw bad("'[' without ']'");
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw bad("only ':port' may follow ']'");
    if (after !== '') portText = after.slice(1);
    if (!IPV6_RE.test(host) || !host.includes(':')) throw bad('brackets hold an IPv6 address');
  } else {
    const colon = rest.indexOf(':');
    if (colon !== rest.lastIndexOf(':')) throw bad('an IPv6 address goes in brackets, e.g. [fe80::1]:22');
    host = colon < 0 ? rest : rest.slice(0, colon);
    if (colon >= 0) portText = rest.slice(colon + 1);
    if (host.length === 0 || host.length > 253 || !host.split('.').every((l) => LABEL_RE.test(l))) {
      throw bad(`host ${JSON.stringify(host)} is not a host name or an IPv4 address`);
    }
  }
  let port = 22;
  if (portText !== undefined) {
    if (!PORT_RE.test(portText) || Number(portText) > 65535) throw bad(`port ${JSON.stringify(portText)} is not 1 to 65535`);
    port = Number(portText);
  }
  return user === undefined ? { host, port } : { user, host, port };
}

/**
 * A path as an ssh_config value: ssh expands `%` tokens and splits on spaces in paths such as
 * UserKnownHostsFile and ControlPath, so `%` is doubled and the value double-quoted. A `"` cannot be quoted.
 */
export function sshConfigPath(what: string, path: string): string {
  if (!isAbsolute(path)) throw new UserError(`${what} ${path}: must be an absolute path`, { code: 'box-failed' });
  if (/["\x00-\x1f\x7f]/.test(path)) throw new UserError(`${what} ${path}: ssh cannot take a path with '"' or a control character`, { code: 'box-failed' });
  return `"${path.replace(/%/g, '%%')}"`;
}

export interface SshConnectionConfig {
  target: SshTarget;
  /** The known_hosts file obsbuild owns for this box (absolute): the only place host keys are trusted from. */
  knownHostsFile: string;
  /** Trust and record the key on first contact (`accept-new`); a changed key is still refused. */
  acceptNewHostKey?: boolean;
  /** Name the box's key is recorded under instead of the address, e.g. the node name the console used. */
  hostKeyAlias?: string;
  /** A private key to use alone (absolute); otherwise ssh's usual ones, the agent and ~/.ssh/config. */
  identityFile?: string;
  /** `-F`: another client config, or 'none' for none at all (the tests use it to be independent of $HOME). */
  configFile?: string;
  connectTimeoutS?: number;
}

/** Seconds a master with no session left waits before exiting, should obsbuild die without closing it. */
export const CONTROL_PERSIST_S = 120;

/**
 * Every argument before the remote command, destination last. `role` 'master' opens the one connection of
 * the job in the background; 'client' multiplexes a session over it.
 */
export function sshArgs(cfg: SshConnectionConfig, controlPath: string, role: 'master' | 'client'): string[] {
  const o = (kv: string) => ['-o', kv];
  const args: string[] = [];
  if (cfg.configFile !== undefined) args.push('-F', cfg.configFile);
  if (role === 'master') args.push('-M', '-N', '-f', ...o('ControlMaster=yes'), ...o(`ControlPersist=${CONTROL_PERSIST_S}`));
  else args.push('-T', ...o('ControlMaster=no'));
  args.push(
    ...o(`ControlPath=${sshConfigPath('control socket', controlPath)}`),
    ...o('BatchMode=yes'), // never prompt: a password or passphrase prompt would hang a job
    ...o('LogLevel=ERROR'),
    ...o(`ConnectTimeout=${cfg.connectTimeoutS ?? 10}`),
    ...o('ServerAliveInterval=15'),
    ...o('ServerAliveCountMax=3'),
    ...o(`StrictHostKeyChecking=${cfg.acceptNewHostKey ? 'accept-new' : 'yes'}`),
    ...o(`UserKnownHostsFile=${sshConfigPath('known hosts file', cfg.knownHostsFile)}`),
    ...o('GlobalKnownHostsFile=/dev/null'), // trust comes from obsbuild's file alone
    ...o('HashKnownHosts=no'), // the recorded line stays readable and comparable with the console's
    ...o('UpdateHostKeys=no'),
    ...o('CheckHostIP=no'),
    ...LENNY_ALGORITHM_OPTIONS.flatMap(o),
    ...o('RequestTTY=no'),
    ...o('RemoteCommand=none'),
    ...o('ClearAllForwardings=yes'),
    ...o('ForwardAgent=no'),
    ...o('ForwardX11=no'),
    ...o('PermitLocalCommand=no'),
    ...o('EscapeChar=none'), // putFile's bytes pass through untouched
  );
  if (cfg.hostKeyAlias !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(cfg.hostKeyAlias)) throw new UserError(`host key alias ${JSON.stringify(cfg.hostKeyAlias)}: letters, digits, '.', '_', '-' only`, { code: 'box-failed' });
    args.push(...o(`HostKeyAlias=${cfg.hostKeyAlias}`));
  }
  if (cfg.identityFile !== undefined) args.push(...o(`IdentityFile=${sshConfigPath('identity file', cfg.identityFile)}`), ...o('IdentitiesOnly=yes'));
  const t = cfg.target;
  if (t.user !== undefined) args.push('-l', t.user);
  args.push('-p', String(t.port), '--', t.host);
  return args;
}
