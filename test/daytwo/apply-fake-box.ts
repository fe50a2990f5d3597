/**
 * A box for apply's unit tests: its files in a map, and an interpreter for exactly the commands apply
 * sends (file copies for backup and restore, keepalived's pid and SIGHUP, the IPVS table and addresses,
 * sysctl, hostname, ifdown/ifup). Every operation is logged in order; an unknown command fails the test.
 */
import { fileBytes } from '../../src/contracts/generated-file.js';
import { HOSTNAME_PATH, IPVSADM_RULES_PATH, KEEPALIVED_CONF_PATH, KEEPALIVED_INIT_PATH } from '../../src/contracts/box-paths.js';
import type { BoxShell, FileOwner, RunResult } from '../../src/remote/box-shell.js';
import type { Site } from '../../src/site/model.js';
import type { DesiredNode } from '../../src/daytwo/desired.js';
import type { BoxFileReading } from '../../src/daytwo/plan.js';
import type { BoxLink } from '../../src/daytwo/box-links.js';
import type { Clock } from '../../src/daytwo/activation.js';
import { sha256Hex } from '../../src/util/hash.js';

const SEP = '@@obsbuild-sep';
const FORWARD = { nat: 'Masq', dr: 'Route', tun: 'Tunnel' } as const;

/** What `ipvsadm -L -n` prints for the site, without the real servers in `down`. */
export function ipvsadmListing(site: Site, down: ReadonlySet<string> = new Set()): string {
  const lines = ['IP Virtual Server version 1.2.1 (size=4096)', 'Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn'];
  for (const vs of site.lvs.virtual_servers) {
    lines.push(`${vs.protocol.toUpperCase()}  ${vs.address}:${vs.port} ${vs.scheduler}${vs.persistence_timeout > 0 ? ` persistent ${vs.persistence_timeout}` : ''}`);
    for (const rs of vs.real_servers) {
      if (down.has(`${rs.address}:${rs.port}`)) continue;
      lines.push(`  -> ${rs.address}:${rs.port}             ${FORWARD[vs.forwarding]}    ${rs.weight}      0          0`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export class VirtualClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

function words(cmd: string): string[] {
  return [...cmd.matchAll(/'([^']*)'/g)].map((m) => m[1]);
}

export class FakeBox implements BoxShell {
  files = new Map<string, { bytes: Buffer; mode: number }>();
  /** Symlinks on the box: path -> target (a path is in `files` or here, not both); directories by path. */
  links = new Map<string, string>();
  dirs = new Set<string>();
  /** Everything done, in order: `run <cmd>`, `put <path>`, `verify`. */
  ops: string[] = [];
  sshConnection = '192.168.253.10 50022 192.168.253.254 22';
  ipAddr = '1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 192.168.253.254/24 brd 192.168.253.255 scope global eth0\n3: eth1    inet 172.16.14.120/24 brd 172.16.14.255 scope global eth1\n';
  keepalivedPid: number | null = 4242;
  table = '';
  /** The table keepalived (or ipvsadm -R) builds from a config's text; null: keepalived dies on it. */
  tableFor: (config: string) => string | null = () => null;
  failCommand: (cmd: string) => boolean = () => false;
  failPut: (path: string) => boolean = () => false;

  constructor(desired?: DesiredNode) {
    for (const f of desired?.files ?? []) this.files.set(f.path, { bytes: fileBytes(f), mode: f.mode });
  }

  text(path: string): string | undefined {
    return this.files.get(path)?.bytes.toString('utf8');
  }

  /** The readFiles apply is given: straight from the map. */
  readFiles = async (_shell: BoxShell, paths: readonly string[]): Promise<Map<string, BoxFileReading | null>> => {
    this.ops.push('read');
    const out = new Map<string, BoxFileReading | null>();
    for (const p of paths) {
      const f = this.files.get(p);
      out.set(p, f ? { sha256: sha256Hex(f.bytes), size: f.bytes.length, bytes: Buffer.from(f.bytes), truncated: false } : null);
    }
    return out;
  };

  /** The readLinks apply is given: straight from the maps. */
  readLinks = async (_shell: BoxShell, paths: readonly string[]): Promise<Map<string, BoxLink>> => {
    const out = new Map<string, BoxLink>();
    for (const p of paths) {
      const t = this.links.get(p);
      out.set(p, t !== undefined ? { kind: 'symlink', target: t } : this.dirs.has(p) ? { kind: 'dir' } : this.files.has(p) ? { kind: 'other' } : { kind: 'missing' });
    }
    return out;
  };

  /** The owner each putFile asked for, by path (undefined: none given). */
  owners = new Map<string, FileOwner | undefined>();

  async putFile(path: string, bytes: Uint8Array, mode: number, owner?: FileOwner): Promise<void> {
    this.ops.push(`put ${path}`);
    if (this.failPut(path)) throw new Error(`${path}: write failed on the box`);
    this.files.set(path, { bytes: Buffer.from(bytes), mode });
    this.owners.set(path, owner);
  }

  async close(): Promise<void> {}

  async run(cmd: string): Promise<RunResult> {
    this.ops.push(`run ${cmd}`);
    if (this.failCommand(cmd)) return { exitCode: 1, stdout: 'failed as the test asked\n' };
    const ok = (stdout = ''): RunResult => ({ exitCode: 0, stdout });
    const pid = this.keepalivedPid === null ? '' : String(this.keepalivedPid);
    if (cmd.startsWith('echo "ssh=')) return ok(`ssh=${this.sshConnection}\n${this.ipAddr}`);
    if (cmd.includes('pidof keepalived')) return ok(`${pid}\n${SEP}\n${pid}\n`);
    if (cmd.startsWith('kill -0 ')) {
      const alive = pid !== '' && words(cmd)[0] === pid;
      return ok(`${alive ? 'alive\n' : ''}${SEP}\n${this.table}${SEP}\n${this.ipAddr}`);
    }
    if (cmd.startsWith('ipvsadm -L -n 2>&1; echo')) return ok(`${this.table}${SEP}\n${this.ipAddr}`);
    if (cmd.startsWith('kill -HUP ')) {
      if (words(cmd)[0] !== pid) return { exitCode: 1, stdout: 'kill: no such process\n' };
      this.reloadKeepalived();
      return ok();
    }
    if (cmd === `'${KEEPALIVED_INIT_PATH}' start`) {
      this.keepalivedPid = 5151;
      this.reloadKeepalived();
      return ok('Starting keepalive daemon: keepalived.\n');
    }
    if (cmd.startsWith('ipvsadm -C && ipvsadm -R < ')) {
      const t = this.tableFor(this.text(IPVSADM_RULES_PATH) ?? '');
      if (t === null) return { exitCode: 1, stdout: 'ipvsadm: bad rules\n' };
      this.table = t;
      return ok(`${SEP}\n${this.table}`);
    }
    if (cmd.startsWith('sysctl -p ')) return ok('net.ipv4.ip_forward = 1\n');
    if (cmd.startsWith('hostname -F ')) return ok(`${this.text(HOSTNAME_PATH)?.trim()}\n`);
    if (cmd.startsWith('ifdown ')) return ok();
    // backup, restore and symlinks: && chains of mkdir, cp -Pp, mv -Tf, rm -f, ln -s (-P and -T: links are not followed)
    for (const part of cmd.split(' && ')) {
      const w = words(part);
      if (part.startsWith('mkdir -p ')) continue;
      if (part.startsWith('cp -Pp ') || part.startsWith('mv -Tf ')) {
        const [from, to] = w;
        const f = this.files.get(from);
        const l = this.links.get(from);
        if (!f && l === undefined) return { exitCode: 1, stdout: `${part.slice(0, 2)}: cannot stat '${from}'\n` };
        if (this.dirs.has(to)) return { exitCode: 1, stdout: `${part.slice(0, 2)}: cannot overwrite directory '${to}' with non-directory\n` };
        this.files.delete(to);
        this.links.delete(to);
        if (f) this.files.set(to, part.startsWith('cp') ? { bytes: Buffer.from(f.bytes), mode: f.mode } : f);
        else this.links.set(to, l!);
        if (part.startsWith('mv')) {
          this.files.delete(from);
          this.links.delete(from);
        }
      } else if (part.startsWith('rm -f ')) {
        this.files.delete(w[0]);
        this.links.delete(w[0]);
      } else if (part.startsWith('ln -s -- ')) {
        if (this.files.has(w[1]) || this.links.has(w[1])) return { exitCode: 1, stdout: `ln: failed to create symbolic link '${w[1]}': File exists\n` };
        this.links.set(w[1], w[0]);
      } else {
        throw new Error(`the fake box does not know this command: ${part}`);
      }
    }
    return ok();
  }

  private reloadKeepalived(): void {
    const t = this.tableFor(this.text(KEEPALIVED_CONF_PATH) ?? '');
    if (t === null) {
      this.keepalivedPid = null; // keepalived exits on a config it cannot use
      this.table = '';
    } else {
      this.table = t;
    }
  }

  /** The ops without the wait's polls, for order assertions. */
  steps(): string[] {
    return this.ops.filter((o) => !o.startsWith('run kill -0 ')).map((o) => o.replace(/^run /, ''));
  }
}
