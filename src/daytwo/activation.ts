/**
 * How each file apply writes is made live on a running box, in one table keyed by the box path contracts,
 * and running those activations: keepalived's SIGHUP reload with a bounded wait until the live IPVS table
 * and VRRP addresses prove the new config is in force, ipvsadm's restore, `sysctl -p`, `hostname -F`, and
 * ifdown/ifup of the interfaces whose stanzas changed, and a restart of the NTP or syslog daemon whose config changed.
 */
import {
  AUTHORIZED_KEYS_PATH,
  HOSTNAME_PATH,
  HOSTS_PATH,
  INTERFACES_PATH,
  IPVSADM_DEFAULT_PATH,
  IPVSADM_RULES_PATH,
  KEEPALIVED_CONF_PATH,
  KEEPALIVED_INIT_PATH,
  KEEPALIVED_PID_PATH,
  LOCALTIME_PATH,
  NOTIFY_SCRIPT_PATH,
  RESOLV_CONF_PATH,
  SHADOW_PATH,
  SYSCTL_CONF_PATH,
  TIMEZONE_PATH,
} from '../contracts/box-paths.js';
import { compareVirtualServer } from '../console/checks.js';
import { parseIpAddr, parseIpvsadm, type IpvsService } from '../console/box-output.js';
import { virtualAddressList } from '../lvs/addresses.js';
import type { BoxShell } from '../remote/box-shell.js';
import { shQuote } from '../remote/sh-quote.js';
import type { NodeRole, Site } from '../site/model.js';
import { NTP_DAEMONS, SYSLOG_DAEMONS, type ServiceDaemon } from '../site/services.js';

/** A daemon restarted through its init script after its config changed; the kind names which. */
export type RestartKind = 'rsyslog-restart' | 'sysklogd-restart' | 'ntpd-restart' | 'chrony-restart';

export type ActivationKind = 'interfaces' | 'sysctl' | 'hostname' | RestartKind | 'ipvsadm-restore' | 'keepalived-reload' | 'none';

/** The daemon each restart kind restarts (lenny's init scripts; the stand-in's have the same names). */
export const RESTARTED: Readonly<Record<RestartKind, ServiceDaemon>> = {
  'rsyslog-restart': SYSLOG_DAEMONS.rsyslog,
  'sysklogd-restart': SYSLOG_DAEMONS.sysklogd,
  'ntpd-restart': NTP_DAEMONS.ntpd,
  'chrony-restart': NTP_DAEMONS.chrony,
};

export interface Activation {
  kind: ActivationKind;
  /** For `interfaces`: the logical interfaces (labels, e.g. eth1, eth0:120) to take down and up, in order. */
  interfaces?: string[];
}

export interface ActivationRule {
  kind: ActivationKind;
  /** Why this is the way the box takes the change (shown in `apply --help` and the plan). */
  why: string;
}

/** Every path apply may write, and how the box takes a change to it. A path not here is refused. */
export const ACTIVATION_RULES: ReadonlyMap<string, ActivationRule> = new Map<string, ActivationRule>([
  [KEEPALIVED_CONF_PATH, { kind: 'keepalived-reload', why: 'keepalived re-reads its config on SIGHUP to its parent' }],
  [NOTIFY_SCRIPT_PATH, { kind: 'keepalived-reload', why: 'keepalived runs the notify script it was configured with; a reload re-reads it' }],
  [IPVSADM_RULES_PATH, { kind: 'ipvsadm-restore', why: 'the static table is flushed and restored from the rules file' }],
  [IPVSADM_DEFAULT_PATH, { kind: 'none', why: 'read by the ipvsadm init script at boot only' }],
  [SYSCTL_CONF_PATH, { kind: 'sysctl', why: 'sysctl -p loads the file into the running kernel' }],
  [HOSTNAME_PATH, { kind: 'hostname', why: 'hostname -F sets the running hostname from the file' }],
  [HOSTS_PATH, { kind: 'none', why: 'read on every lookup' }],
  [RESOLV_CONF_PATH, { kind: 'none', why: 'read on every lookup' }],
  [SHADOW_PATH, { kind: 'none', why: 'read on every login' }],
  [AUTHORIZED_KEYS_PATH, { kind: 'none', why: 'read by sshd on every login' }],
  [TIMEZONE_PATH, { kind: 'none', why: 'the zone\'s name, read by tzdata\'s scripts when they run' }],
  [LOCALTIME_PATH, { kind: 'none', why: 'read by the C library when a program converts a time; nothing to reload' }],
  [INTERFACES_PATH, { kind: 'interfaces', why: 'ifdown/ifup of the changed interfaces only; refused over SSH when the session\'s interface changes' }],
  ...(Object.entries(RESTARTED) as [RestartKind, ServiceDaemon][]).map(
    ([kind, d]): [string, ActivationRule] => [d.config, { kind, why: `${d.process} reads its config at start only: ${d.init} restart` }],
  ),
]);

/** The site's own files (files:): obsbuild does not know what reads them, so it restarts nothing. */
export const SITE_FILE_RULE: ActivationRule = { kind: 'none', why: "the site's own file (files:): nothing is restarted; restart what reads it" };

/** The order activations run in: addresses first (everything else binds to them), the balancer last. */
export const ACTIVATION_ORDER: readonly ActivationKind[] = [
  'interfaces', 'sysctl', 'hostname', 'rsyslog-restart', 'sysklogd-restart', 'ntpd-restart', 'chrony-restart', 'ipvsadm-restore', 'keepalived-reload',
];

/** The commands an activation runs, for the plan (the keepalived wait is described, not a command). */
export function describeActivation(a: Activation): string {
  switch (a.kind) {
    case 'interfaces': {
      const ifs = a.interfaces ?? [];
      return `${ifs.map((i) => `ifdown ${i}`).join('; ')}; ${[...ifs].reverse().map((i) => `ifup ${i}`).join('; ')}`;
    }
    case 'sysctl':
      return `sysctl -p ${SYSCTL_CONF_PATH}`;
    case 'hostname':
      return `hostname -F ${HOSTNAME_PATH}`;
    case 'ipvsadm-restore':
      return `ipvsadm -C; ipvsadm -R < ${IPVSADM_RULES_PATH}; then the IPVS table must equal the site`;
    case 'keepalived-reload':
      return `kill -HUP <keepalived parent> (${KEEPALIVED_PID_PATH}); then wait until the IPVS table and VRRP addresses show the new config`;
    case 'none':
      return 'nothing (read when used)';
    default:
      return `${RESTARTED[a.kind].init} restart; then ${RESTARTED[a.kind].process} must be running`;
  }
}

/** Orders and deduplicates; `none` is not an activation to run. Interface lists are merged. */
export function orderActivations(list: readonly Activation[]): Activation[] {
  const out: Activation[] = [];
  for (const kind of ACTIVATION_ORDER) {
    const same = list.filter((a) => a.kind === kind);
    if (!same.length) continue;
    if (kind === 'interfaces') out.push({ kind, interfaces: [...new Set(same.flatMap((a) => a.interfaces ?? []))] });
    else out.push({ kind });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// /etc/network/interfaces: which logical interfaces a change touches

/** A real interfaces file is a few kilobytes; more than this many lines is not one of ours. */
const INTERFACES_MAX_LINES = 20_000;

/** Per logical interface, its `iface` stanza (normalised lines) and whether it is `auto`. */
export function parseInterfaceStanzas(text: string): Map<string, string> {
  const lines = text.split('\n');
  if (lines.length > INTERFACES_MAX_LINES) throw new Error(`${INTERFACES_PATH}: more than ${INTERFACES_MAX_LINES} lines`);
  const stanzas = new Map<string, string[]>();
  const auto = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of lines) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (line === '' || line.startsWith('#')) continue;
    const [word, ...rest] = line.split(' ');
    if (word === 'iface' && rest[0]) {
      current = [line];
      stanzas.set(rest[0], current);
    } else if (word === 'auto' || word.startsWith('allow-')) {
      for (const name of rest) {
        const marks = auto.get(name) ?? [];
        marks.push(word);
        auto.set(name, marks);
      }
      current = null;
    } else if (word === 'mapping' || word === 'source') {
      current = null;
    } else if (current) {
      current.push(line);
    }
  }
  const out = new Map<string, string>();
  for (const [name, body] of stanzas) {
    const marks = [...new Set(auto.get(name) ?? [])].sort().map((w) => `${w} ${name}`);
    out.set(name, [...marks, ...body].join('\n'));
  }
  return out;
}

/** `eth0:120` -> `eth0`. */
export function deviceOf(label: string): string {
  return label.split(':')[0];
}

/**
 * The logical interfaces to cycle for a change of the interfaces file, in ifdown order (aliases before their
 * device; ifup runs the reverse). A device whose own stanza changes takes its aliases down with it
 * (`ifconfig eth0 down` removes every address), so they are cycled too.
 */
export function changedInterfaces(have: string, want: string): string[] {
  const a = parseInterfaceStanzas(have);
  const b = parseInterfaceStanzas(want);
  const changed = new Set<string>();
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    if (name === 'lo') continue;
    if (a.get(name) !== b.get(name)) changed.add(name);
  }
  for (const name of [...changed]) {
    if (name.includes(':')) continue;
    for (const other of [...a.keys(), ...b.keys()]) if (deviceOf(other) === name && other !== name) changed.add(other);
  }
  const list = [...changed].sort();
  return [...list.filter((n) => n.includes(':')), ...list.filter((n) => !n.includes(':'))];
}

/** The label holding `address` on the box (from `ip -o -4 addr show`), e.g. the one the SSH session uses. */
export function labelOfAddress(ipAddrOutput: string, address: string): string | null {
  const hit = parseIpAddr(ipAddrOutput).find((l) => l.address.split('/')[0] === address);
  return hit ? hit.label : null;
}

// ---------------------------------------------------------------------------------------------------------
// Running activations

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface ActivationContext {
  site: Site;
  role: 'single' | NodeRole;
  /** The box's keepalived.conf before this apply (its VIPs must be released if the new config drops them). */
  previousKeepalivedConf: string | null;
  /**
   * Set when rolling back: the balancer must come back to this table (read before anything was written)
   * instead of matching the site file, which is the config that was just taken back.
   */
  restoreTo?: KeepalivedSnapshot;
  clock?: Clock;
  log?: (line: string) => void;
  /** Override of the keepalived wait's bound (tests). */
  keepalivedTimeoutMs?: number;
  pollMs?: number;
}

export interface ActivationOutcome {
  activation: Activation;
  ok: boolean;
  /** One line: what happened (the evidence, or why it failed). */
  detail: string;
}

const SEP = '@@obsbuild-sep';

async function must(shell: BoxShell, cmd: string, timeoutMs = 60_000): Promise<{ ok: boolean; out: string }> {
  const r = await shell.run(cmd, { timeoutMs });
  return { ok: r.exitCode === 0, out: r.stdout.trim() };
}

function lastLine(s: string): string {
  const l = s.trim().split('\n');
  return (l[l.length - 1] ?? '').slice(0, 300);
}

export async function runActivation(shell: BoxShell, a: Activation, ctx: ActivationContext): Promise<ActivationOutcome> {
  switch (a.kind) {
    case 'none':
      return { activation: a, ok: true, detail: 'nothing to do' };
    case 'sysctl': {
      const r = await must(shell, `sysctl -p ${shQuote(SYSCTL_CONF_PATH)}`);
      return { activation: a, ok: r.ok, detail: r.ok ? 'sysctl -p loaded the file' : `sysctl -p failed: ${lastLine(r.out)}` };
    }
    case 'hostname': {
      const r = await must(shell, `hostname -F ${shQuote(HOSTNAME_PATH)} && hostname`);
      return { activation: a, ok: r.ok, detail: r.ok ? `hostname is ${lastLine(r.out)}` : `hostname -F failed: ${lastLine(r.out)}` };
    }
    case 'interfaces': {
      const ifs = a.interfaces ?? [];
      // ifdown of an interface that is not up (or no longer configured) fails harmlessly; ifup must succeed
      const down = ifs.map((i) => `ifdown ${shQuote(i)} 2>&1`).join('; ');
      const up = [...ifs].reverse().map((i) => `ifup ${shQuote(i)}`).join(' && ');
      const r = await must(shell, `${down}; ${up}`, 120_000);
      return { activation: a, ok: r.ok, detail: r.ok ? `${ifs.join(', ')} down and up` : `ifup failed: ${lastLine(r.out)}` };
    }
    case 'ipvsadm-restore':
      return ipvsadmRestore(shell, ctx, a);
    case 'keepalived-reload':
      return keepalivedReload(shell, ctx, a);
    default:
      return restartDaemon(shell, a, RESTARTED[a.kind]);
  }
}

/** The init script's restart, then the daemon must still be up a second later (a config it refuses stops it). */
async function restartDaemon(shell: BoxShell, a: Activation, d: ServiceDaemon): Promise<ActivationOutcome> {
  const r = await must(shell, `${shQuote(d.init)} restart 2>&1 && sleep 1 && echo ${SEP} && pidof ${d.process}`);
  const pids = r.ok ? r.out.slice(r.out.indexOf(SEP) + SEP.length).trim() : '';
  if (r.ok && /^\d/.test(pids)) return { activation: a, ok: true, detail: `${d.process} restarted (pid ${pids})` };
  return { activation: a, ok: false, detail: r.out.includes(SEP) ? `${d.process} is not running after ${d.init} restart` : `${d.init} restart failed: ${lastLine(r.out)}` };
}

/** Problems of the table against the site when nothing health-checks (ipvsadm manager): everything listed. */
function exactTableProblems(site: Site, table: IpvsService[]): string[] {
  const problems = extraServiceProblems(site, table);
  for (const vs of site.lvs.virtual_servers) problems.push(...compareVirtualServer(vs, table), ...extraRealServerProblems(vs, table));
  return problems;
}

function serviceKey(s: { protocol: string; address: string; port: number }): string {
  return `${s.protocol} ${s.address}:${s.port}`;
}

function extraServiceProblems(site: Site, table: IpvsService[]): string[] {
  const want = new Set(site.lvs.virtual_servers.map(serviceKey));
  return table.filter((s) => !want.has(serviceKey(s))).map((s) => `the IPVS table still has ${s.protocol.toUpperCase()} ${s.address}:${s.port}, which the site no longer lists`);
}

function extraRealServerProblems(vs: Site['lvs']['virtual_servers'][number], table: IpvsService[]): string[] {
  const svc = table.find((s) => serviceKey(s) === serviceKey(vs));
  if (!svc) return [];
  const allowed = new Set(vs.real_servers.map((r) => `${r.address}:${r.port}`));
  // keepalived lists the sorry server when every real server is down
  if (vs.sorry_server) allowed.add(`${vs.sorry_server.address}:${vs.sorry_server.port}`);
  return svc.reals.filter((r) => !allowed.has(`${r.address}:${r.port}`)).map((r) => `${vs.name} still has real server ${r.address}:${r.port}, which the site no longer lists`);
}

async function ipvsadmRestore(shell: BoxShell, ctx: ActivationContext, a: Activation): Promise<ActivationOutcome> {
  const r = await must(shell, `ipvsadm -C && ipvsadm -R < ${shQuote(IPVSADM_RULES_PATH)} && echo ${SEP} && ipvsadm -L -n`);
  if (!r.ok) return { activation: a, ok: false, detail: `ipvsadm restore failed: ${lastLine(r.out)}` };
  const table = parseIpvsadm(r.out.slice(r.out.indexOf(SEP) + SEP.length));
  const problems = ctx.restoreTo ? snapshotProblems(ctx.restoreTo, table, true) : exactTableProblems(ctx.site, table);
  return { activation: a, ok: problems.length === 0, detail: problems.length ? problems.join('; ') : `${table.length} virtual service(s) restored as the site says` };
}

// ---------------------------------------------------------------------------------------------------------
// keepalived 1.1.15: reload, and the proof that the new config is in force

/** 1.1.15's checkers run their first check this long after a (re)load (its BOOTSTRAP_DELAY). */
const CHECKER_BOOTSTRAP_MS = 1000;
/** A MASTER re-adds a new VIP about 2 s after SIGHUP (measured on 1.1.15); removed VIPs go within ~220 ms. */
const VRRP_SETTLE_MS = 2500;
/** The wait's floor: covers a BACKUP+nopreempt node's master_down (~4.5-4.8 s measured) several times over. */
export const KEEPALIVED_WAIT_MS = 30_000;

/**
 * How long after the SIGHUP the table can first be taken as the new config's verdict: the checkers' first run
 * (1 s) plus the longest any check of the site needs to declare a server down (TCP: connect_timeout; HTTP:
 * nb_get_retry attempts of connect_timeout + delay_before_retry each), and never less than the VRRP settle.
 * Before that a server whose new check fails is still listed, and a table that looks right may not yet
 * have been touched by the reload at all.
 */
export function keepalivedSettleMs(site: Site): number {
  let checkMs = 0;
  for (const vs of site.lvs.virtual_servers) {
    const c = vs.check;
    const ms = c.type === 'tcp' ? c.connect_timeout * 1000 : c.type === 'http' ? c.retries * (c.connect_timeout + c.retry_delay) * 1000 : 0;
    checkMs = Math.max(checkMs, ms);
  }
  return Math.max(VRRP_SETTLE_MS, CHECKER_BOOTSTRAP_MS + checkMs + 1000);
}

/** The addresses of `virtual_ipaddress` blocks of a keepalived.conf (the VIPs that config makes float). */
export function keepalivedVips(conf: string): string[] {
  const out: string[] = [];
  let inside = false;
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!inside) {
      if (/^virtual_ipaddress\s*\{$/.test(line)) inside = true;
      continue;
    }
    if (line.startsWith('}')) {
      inside = false;
      continue;
    }
    const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:\/\d{1,2})?(?:\s|$)/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}

export interface KeepalivedSnapshot {
  table: IpvsService[];
  addresses: string[];
}

interface Reading extends KeepalivedSnapshot {
  alive: boolean;
}

function parseReading(out: string): Reading {
  const [alive = '', ipvs = '', addrs = ''] = out.split(SEP);
  return { alive: /\balive\b/.test(alive), table: parseIpvsadm(ipvs), addresses: parseIpAddr(addrs).map((l) => l.address.split('/')[0]) };
}

/**
 * What proves a reload's new config is in force, from the box alone (1.1.15 keeps the same pids and logs only
 * to syslog, so the table and the addresses are the evidence):
 * - the parent is still alive (1.1.15 exits on a config it cannot use);
 * - the table's virtual services are exactly the site's, each with the site's scheduler and persistence
 *   (1.1.15 removes a service whose scheduler or persistence changed and adds the new one at once);
 * - no real server the site does not list for that service is in the table (removed or re-weighted ones are
 *   deleted at reload), and every listed one has the site's weight and forwarding;
 * - every real server the health check reported up before the reload (listed with a weight) and the site
 *   keeps is listed: a check the change broke takes it out within the settle time. A down server, or a new
 *   one whose first check failed, is legitimately absent: 1.1.15 lists every configured server at reload
 *   and its checker removes the dead ones, so absence is the checker's verdict.
 * - VRRP: VIPs the previous config floated and the new one drops are gone, and a node whose config says
 *   MASTER holds all of the new VIPs; a BACKUP (nopreempt) node may hold none (the peer may be master).
 * A change the table cannot show (only a check's path, a new server that is down) is proven only as far as
 * "keepalived is alive and its table agrees with the new config after the checks had time to run".
 */
export function keepalivedProblems(site: Site, role: 'single' | NodeRole, before: KeepalivedSnapshot, now: Reading, droppedVips: readonly string[]): string[] {
  if (!now.alive) return ['keepalived is no longer running'];
  const problems = extraServiceProblems(site, now.table);
  for (const vs of site.lvs.virtual_servers) {
    const was = before.table.find((s) => serviceKey(s) === serviceKey(vs));
    const upBefore = new Set((was?.reals ?? []).filter((r) => r.weight > 0).map((r) => `${r.address}:${r.port}`));
    const svc = now.table.find((s) => serviceKey(s) === serviceKey(vs));
    const listedUp = new Set((svc?.reals ?? []).filter((r) => r.weight > 0).map((r) => `${r.address}:${r.port}`));
    const expected = vs.real_servers.filter((r) => upBefore.has(`${r.address}:${r.port}`) || listedUp.has(`${r.address}:${r.port}`));
    problems.push(...compareVirtualServer({ ...vs, real_servers: expected }, now.table), ...extraRealServerProblems(vs, now.table));
  }
  const vrrp = site.lvs.vrrp;
  if (vrrp && role !== 'single') {
    for (const vip of droppedVips) if (now.addresses.includes(vip)) problems.push(`${vip} is still on the box, the new config no longer floats it`);
    const state = vrrp.nodes[role].state ?? (role === 'master' && !vrrp.nopreempt ? 'MASTER' : 'BACKUP');
    if (state === 'MASTER') {
      for (const vip of virtualAddressList(site)) if (!now.addresses.includes(vip)) problems.push(`${vip} is not on this MASTER node yet`);
    }
  }
  return problems;
}

/**
 * Rolling back, the site file no longer describes the box: the table must be the one read before the apply.
 * Same services with the same schedulers and persistence, and every real server listed then (with its
 * weight and forwarding) listed again; with keepalived a server listed now but not then may be a down one
 * that 1.1.15 lists at reload until its first check, so extra servers are a problem only when `exact`
 * (ipvsadm's static table). VRRP addresses are not required back: the peer may have taken them meanwhile.
 */
export function snapshotProblems(before: KeepalivedSnapshot, table: IpvsService[], exact: boolean): string[] {
  const problems: string[] = [];
  const key = (r: { address: string; port: number }) => `${r.address}:${r.port}`;
  for (const svc of table) {
    if (!before.table.some((b) => serviceKey(b) === serviceKey(svc))) problems.push(`${serviceKey(svc)} is in the table, it was not before the apply`);
  }
  for (const b of before.table) {
    const svc = table.find((s) => serviceKey(s) === serviceKey(b));
    if (!svc) {
      problems.push(`${serviceKey(b)} was in the table before the apply and is not now`);
      continue;
    }
    if (svc.scheduler !== b.scheduler || svc.persistent !== b.persistent) problems.push(`${serviceKey(b)} has scheduler ${svc.scheduler}, before the apply ${b.scheduler}`);
    for (const r of b.reals) {
      const now = svc.reals.find((x) => key(x) === key(r));
      if (!now) problems.push(`real server ${key(r)} of ${serviceKey(b)} was listed before the apply and is not now`);
      else if (now.weight !== r.weight || now.forward !== r.forward) problems.push(`real server ${key(r)} of ${serviceKey(b)} has ${now.forward} weight ${now.weight}, before the apply ${r.forward} weight ${r.weight}`);
    }
    if (exact) for (const r of svc.reals) if (!b.reals.some((x) => key(x) === key(r))) problems.push(`real server ${key(r)} of ${serviceKey(b)} was not there before the apply`);
  }
  return problems;
}

/** The IPVS table and the box's IPv4 addresses, read in one command. */
export async function readBalancerSnapshot(shell: BoxShell): Promise<KeepalivedSnapshot> {
  const r = await shell.run(`ipvsadm -L -n 2>&1; echo ${SEP}; ip -o -4 addr show 2>&1`, { timeoutMs: 30_000 });
  const [ipvs = '', addrs = ''] = r.stdout.split(SEP);
  return { table: parseIpvsadm(ipvs), addresses: parseIpAddr(addrs).map((l) => l.address.split('/')[0]) };
}

const READ_STATE = (pid: string) =>
  `kill -0 ${shQuote(pid)} 2>/dev/null && echo alive; echo ${SEP}; ipvsadm -L -n 2>&1; echo ${SEP}; ip -o -4 addr show 2>&1`;

/**
 * The parent's pid: its pidfile, when it names a running keepalived; otherwise the oldest keepalived process
 * (the parent forks the children, so it has the lowest pid unless pids wrapped). null: none running.
 */
async function keepalivedParent(shell: BoxShell): Promise<string | null> {
  const r = await shell.run(`cat ${shQuote(KEEPALIVED_PID_PATH)} 2>/dev/null; echo ${SEP}; pidof keepalived`, { timeoutMs: 30_000 });
  const [file = '', list = ''] = r.stdout.split(SEP);
  const pids = (list.match(/\d{1,10}/g) ?? []).map(Number).filter((n) => n > 1);
  const fromFile = /^\s*(\d{1,10})\s*$/.exec(file)?.[1];
  if (fromFile && pids.includes(Number(fromFile))) return fromFile;
  return pids.length ? String(Math.min(...pids)) : null;
}

async function keepalivedReload(shell: BoxShell, ctx: ActivationContext, a: Activation): Promise<ActivationOutcome> {
  const clock = ctx.clock ?? realClock;
  const log = ctx.log ?? (() => {});
  const pollMs = ctx.pollMs ?? 500;
  let pid = await keepalivedParent(shell);
  const before = parseReading((await shell.run(READ_STATE(pid ?? '0'), { timeoutMs: 30_000 })).stdout);
  const start = clock.now();
  if (pid) {
    const r = await must(shell, `kill -HUP ${shQuote(pid)}`);
    if (!r.ok) return { activation: a, ok: false, detail: `kill -HUP ${pid} failed: ${lastLine(r.out)}` };
    log(`keepalived (pid ${pid}) reloading (SIGHUP)`);
  } else {
    // nothing to reload (killed, or died on the previous config): start it from its init script
    const r = await must(shell, `${shQuote(KEEPALIVED_INIT_PATH)} start`);
    if (!r.ok) return { activation: a, ok: false, detail: `keepalived was not running and ${KEEPALIVED_INIT_PATH} start failed: ${lastLine(r.out)}` };
    pid = await keepalivedParent(shell);
    if (!pid) return { activation: a, ok: false, detail: `keepalived was not running and did not stay up after ${KEEPALIVED_INIT_PATH} start` };
    log(`keepalived was not running: started (pid ${pid})`);
  }
  const newVips = new Set(virtualAddressList(ctx.site));
  const dropped = ctx.previousKeepalivedConf === null ? [] : keepalivedVips(ctx.previousKeepalivedConf).filter((v) => !newVips.has(v));
  const settle = keepalivedSettleMs(ctx.site);
  const bound = ctx.keepalivedTimeoutMs ?? Math.max(KEEPALIVED_WAIT_MS, settle + 15_000);
  let problems: string[] = ['not read yet'];
  for (;;) {
    const now = parseReading((await shell.run(READ_STATE(pid), { timeoutMs: 30_000 })).stdout);
    problems = ctx.restoreTo
      ? now.alive
        ? snapshotProblems(ctx.restoreTo, now.table, false)
        : ['keepalived is no longer running']
      : keepalivedProblems(ctx.site, ctx.role, before, now, dropped);
    const elapsed = clock.now() - start;
    if (!now.alive) break;
    if (problems.length === 0 && elapsed >= settle) {
      return { activation: a, ok: true, detail: `new config in force after ${(elapsed / 1000).toFixed(1)} s (same parent pid ${pid})` };
    }
    if (elapsed >= bound) break;
    await clock.sleep(pollMs);
  }
  const waited = ((clock.now() - start) / 1000).toFixed(1);
  return { activation: a, ok: false, detail: `after ${waited} s the new config is not in force: ${problems.join('; ')}` };
}
