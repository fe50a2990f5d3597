/**
 * The post-boot checks, run over the console shell, each PASS/FAIL/SKIP with the command, its exit status,
 * its output and a one-line evidence. Expected values come from the site file (hostname, addresses,
 * virtual servers) and the build manifest (manifest id). The box's command output is read by box-output.ts.
 */
import type { Site, VirtualServer, Forwarding, InterfaceConfig } from '../site/model.js';
import type { CommandResult } from './shell.js';
import { siteNodes } from '../site/nodes.js';
import { parseIpAddr, parseIpvsadm, type IpvsService } from './box-output.js';
import { LOCALTIME_PATH, TIMEZONE_PATH, zoneinfoPath } from '../contracts/box-paths.js';
import { ntpFlavour, parseForwardRules, SYSKLOGD_PORT, SYSLOG_DAEMONS, type SyslogDaemon } from '../site/services.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  command: string | null;
  exitCode: number | null;
  output: string;
  evidence: string;
}

export interface CheckContext {
  site: Site | null;
  /** The manifest id of the build being verified, when known. */
  manifestId: string | null;
  /** `master` or `backup` for an HA pair; otherwise chosen by the hostname the box reports. */
  node?: 'master' | 'backup';
  /**
   * Change nothing on the box (day-two verify): instead of running `depmod -a && sync`, check that
   * modules.dep exists for the running kernel and no module is newer than it.
   */
  readOnly?: boolean;
}

/** Prints the modules newer than modules.dep (none when it is fresh); fails when there is no modules.dep. */
export const MODULES_DEP_FRESH = 'd=/lib/modules/$(uname -r); test -s "$d/modules.dep" && find "$d" -name \'*.ko\' -newer "$d/modules.dep"';

export type Runner = (command: string) => Promise<CommandResult>;

/** What the box should look like: the single node, or one node of an HA pair. */
export interface ExpectedNode {
  hostname: string;
  interfaces: Record<string, InterfaceConfig>;
  /** Virtual server addresses that must sit on an interface (no VRRP: the guide's eth0:NNN aliases). */
  staticVips: string[];
}

export function expectedNode(site: Site, reportedHostname: string | null, node?: 'master' | 'backup'): ExpectedNode {
  const nodes = siteNodes(site);
  if (!site.lvs.vrrp) {
    return { hostname: nodes[0].hostname, interfaces: nodes[0].interfaces, staticVips: [...new Set(site.lvs.virtual_servers.map((v) => v.address))] };
  }
  // VIPs float with VRRP, so they are not expected on any one node
  const n = nodes.find((x) => x.role === node) ?? nodes.find((x) => x.hostname === reportedHostname) ?? nodes[0];
  return { hostname: n.hostname, interfaces: n.interfaces, staticVips: [] };
}

const FORWARD_NAME: Record<Forwarding, string> = { nat: 'Masq', dr: 'Route', tun: 'Tunnel' };

/** Compares one virtual server of the site with the table; returns problems (empty = as the site says). */
export function compareVirtualServer(vs: VirtualServer, table: IpvsService[]): string[] {
  const svc = table.find((s) => s.protocol === vs.protocol && s.address === vs.address && s.port === vs.port);
  const id = `${vs.name} (${vs.protocol.toUpperCase()} ${vs.address}:${vs.port})`;
  if (!svc) return [`${id} is not in the IPVS table`];
  const problems: string[] = [];
  if (svc.scheduler !== vs.scheduler) problems.push(`${id} uses scheduler ${svc.scheduler}, the site file says ${vs.scheduler}`);
  if (vs.persistence_timeout > 0 && svc.persistent !== vs.persistence_timeout) {
    problems.push(`${id} persistence ${svc.persistent ?? 'off'}, the site file says ${vs.persistence_timeout}`);
  }
  for (const rs of vs.real_servers) {
    const r = svc.reals.find((x) => x.address === rs.address && x.port === rs.port);
    const rid = `real server ${rs.address}:${rs.port} of ${vs.name}`;
    if (!r) {
      problems.push(`${rid} is missing: it is down (the health check removed it) or not configured`);
      continue;
    }
    if (r.forward !== FORWARD_NAME[vs.forwarding] && !(vs.forwarding === 'dr' && r.forward === 'Local')) {
      problems.push(`${rid} forwards with ${r.forward}, the site file says ${vs.forwarding} (${FORWARD_NAME[vs.forwarding]})`);
    }
    if (r.weight === 0 && rs.weight !== 0) problems.push(`${rid} has weight 0: it is down (quiesced by the health check)`);
    else if (r.weight !== rs.weight) problems.push(`${rid} has weight ${r.weight}, the site file says ${rs.weight}`);
  }
  return problems;
}

function result(name: string, r: CommandResult | null, status: CheckStatus, evidence: string): CheckResult {
  return { name, status, command: r?.command ?? null, exitCode: r?.exitCode ?? null, output: r?.output ?? '', evidence };
}

function exitText(r: CommandResult): string {
  return r.exitCode === null ? 'did not finish in time' : `exit status ${r.exitCode}`;
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** Runs every check in order; a check that cannot apply (no site file, no manifest) is SKIP with the reason. */
export async function runChecks(run: Runner, ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];

  let r: CommandResult;
  if (ctx.readOnly) {
    // a running box is checked without writing on it: modules.dep must be there and no module newer than it
    r = await run(MODULES_DEP_FRESH);
    const stale = r.output.trim();
    const ok = r.exitCode === 0 && stale === '';
    out.push(
      result(
        'modules.dep is up to date',
        r,
        ok ? 'pass' : 'fail',
        ok ? 'no module is newer than modules.dep' : r.exitCode !== 0 ? `${exitText(r)}: no modules.dep for the running kernel` : `${stale.split('\n').length} module(s) newer than modules.dep (run depmod -a), e.g. ${lastLine(stale)}`,
      ),
    );
  } else {
    // sync: the user power-cycles the box next, and a modules.dep.bin still in the page cache comes back as
    // zeros (seen on the virtual board's ext2 CF card: ip_vs would not load, so keepalived died on the next boot).
    r = await run('depmod -a && sync');
    out.push(result('depmod -a succeeds', r, r.exitCode === 0 ? 'pass' : 'fail', r.exitCode === 0 ? 'exit status 0' : `${exitText(r)}: ${lastLine(r.output)}`));
  }

  r = await run('uname -r; ls /lib/modules');
  {
    const [running, ...dirs] = r.output.split('\n').map((s) => s.trim()).filter(Boolean);
    const ok = r.exitCode === 0 && !!running && dirs.includes(running);
    out.push(
      result(
        'running kernel matches the installed modules',
        r,
        ok ? 'pass' : 'fail',
        ok ? `uname -r = ${running}, /lib/modules/${running} present` : `uname -r = ${running ?? '?'}, /lib/modules has ${dirs.join(' ') || 'nothing'}`,
      ),
    );
  }

  r = await run('modprobe ip_vs');
  out.push(result('modprobe ip_vs works', r, r.exitCode === 0 ? 'pass' : 'fail', r.exitCode === 0 ? 'exit status 0' : `${exitText(r)}: ${lastLine(r.output)}`));

  r = await run('cat /etc/obsbuild/manifest-id');
  {
    const seen = r.output.trim();
    if (!ctx.manifestId) {
      out.push(result('manifest id matches the build', r, 'skip', `box says ${seen || '(nothing)'}; no manifest to compare with (use --manifest out/<hostname>/manifest.json)`));
    } else {
      const ok = r.exitCode === 0 && seen === ctx.manifestId;
      out.push(result('manifest id matches the build', r, ok ? 'pass' : 'fail', ok ? `manifest-id ${seen}` : `box has ${seen || '(no /etc/obsbuild/manifest-id)'}, the build is ${ctx.manifestId}`));
    }
  }

  r = await run('dpkg --audit');
  {
    const ok = r.exitCode === 0 && r.output.trim() === '';
    out.push(result('dpkg --audit reports nothing', r, ok ? 'pass' : 'fail', ok ? 'no broken or half-installed packages' : `${exitText(r)}: ${lastLine(r.output) || 'output not empty'}`));
  }

  r = await run('hostname');
  const reported = r.exitCode === 0 ? r.output.trim() : null;
  const expected = ctx.site ? expectedNode(ctx.site, reported, ctx.node) : null;
  if (!expected) {
    out.push(result('hostname matches the site file', r, 'skip', `box says ${reported ?? '?'}; no site file`));
  } else {
    const ok = reported === expected.hostname;
    out.push(result('hostname matches the site file', r, ok ? 'pass' : 'fail', ok ? `hostname ${reported}` : `box says ${reported ?? '?'}, the site file says ${expected.hostname}`));
  }

  r = await run('ip -o -4 addr show');
  if (!expected) {
    out.push(result('interface addresses match the site file', r, 'skip', 'no site file'));
  } else {
    const have = parseIpAddr(r.output);
    const problems: string[] = [];
    for (const [dev, cfg] of Object.entries(expected.interfaces)) {
      if (!have.some((a) => a.dev === dev && a.address === cfg.address)) {
        const there = have.filter((a) => a.dev === dev).map((a) => a.address);
        problems.push(`${dev} should have ${cfg.address}${there.length ? ` (has ${there.join(', ')})` : ' (no IPv4 address)'}`);
      }
    }
    for (const vip of expected.staticVips) {
      if (!have.some((a) => a.address.split('/')[0] === vip)) problems.push(`virtual server address ${vip} is on no interface`);
    }
    const ok = r.exitCode === 0 && problems.length === 0;
    out.push(
      result(
        'interface addresses match the site file',
        r,
        ok ? 'pass' : 'fail',
        ok ? have.map((a) => `${a.label} ${a.address}`).join(', ') : r.exitCode !== 0 ? exitText(r) : problems.join('; '),
      ),
    );
  }

  r = await run('sysctl net.ipv4.ip_forward');
  {
    // NAT needs forwarding; the site file can turn it off only on purpose (network.ip_forward: false)
    const want = ctx.site?.network.ip_forward === false ? '0' : '1';
    const v = /ip_forward\s*=\s*(\d+)/.exec(r.output)?.[1];
    out.push(
      result(
        `net.ipv4.ip_forward = ${want}`,
        r,
        v === want ? 'pass' : 'fail',
        v === undefined ? `${exitText(r)}: ${lastLine(r.output)}` : `net.ipv4.ip_forward = ${v}${v === want ? '' : `, the site file wants ${want}`}`,
      ),
    );
  }

  if (ctx.site && ctx.site.lvs.manager !== 'keepalived') {
    out.push(result('keepalived is running', null, 'skip', `the site uses manager ${ctx.site.lvs.manager}`));
  } else {
    r = await run('pidof keepalived');
    const ok = r.exitCode === 0 && /\d/.test(r.output);
    out.push(result('keepalived is running', r, ok ? 'pass' : 'fail', ok ? `pid ${r.output.trim()}` : 'no keepalived process'));
  }

  r = await run('ipvsadm -L -n');
  if (!ctx.site) {
    out.push(result('IPVS table matches the site file', r, 'skip', 'no site file'));
  } else if (r.exitCode !== 0) {
    out.push(result('IPVS table matches the site file', r, 'fail', `${exitText(r)}: ${lastLine(r.output)}`));
  } else {
    const table = parseIpvsadm(r.output);
    const problems = ctx.site.lvs.virtual_servers.flatMap((vs) => compareVirtualServer(vs, table));
    out.push(
      result(
        'IPVS table matches the site file',
        r,
        problems.length ? 'fail' : 'pass',
        problems.length ? problems.join('; ') : `${ctx.site.lvs.virtual_servers.length} virtual server(s) with their schedulers and real servers`,
      ),
    );
  }

  out.push(await timezoneCheck(run, ctx.site?.timezone ?? null), await ntpCheck(run, ctx.site), await syslogCheck(run, ctx.site));
  return out;
}

/**
 * The command behind the time zone check: /etc/timezone, whether /etc/localtime has the zone file's bytes
 * (cmp, diffutils is Essential on every Debian), and the abbreviation `date` shows. One line per fact, each
 * with a key, so nothing the files hold can pass for another line. POSIX sh only.
 */
export function timezoneCommand(zone: string): string {
  // the site schema allows only [A-Za-z0-9_+-/] in a zone name: single quotes are enough
  const file = `'${zoneinfoPath(zone)}'`;
  return (
    `echo "timezone=$(head -n 1 ${TIMEZONE_PATH} 2>/dev/null)"; ` +
    `if [ ! -f ${file} ]; then echo localtime=nozone; elif cmp -s ${LOCALTIME_PATH} ${file}; then echo localtime=same; else echo localtime=differs; fi; ` +
    `echo "abbrev=$(date +%Z)"`
  );
}

async function timezoneCheck(run: Runner, zone: string | null): Promise<CheckResult> {
  if (zone === null) return result('time zone is as the site file says', null, 'skip', 'the site file sets no timezone: the rootfs keeps its own');
  const name = `time zone is ${zone}`;
  const r = await run(timezoneCommand(zone));
  if (r.exitCode === null) return result(name, r, 'fail', exitText(r));
  const field = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(r.output.replace(/\r/g, ''))?.[1]?.trim() ?? '';
  const named = field('timezone');
  const localtime = field('localtime');
  const abbrev = field('abbrev');
  const problems: string[] = [];
  if (named !== zone) problems.push(`${TIMEZONE_PATH} says ${named || '(nothing)'}`);
  if (localtime === 'nozone') problems.push(`the box has no ${zoneinfoPath(zone)}`);
  else if (localtime !== 'same') problems.push(`${LOCALTIME_PATH} is not a copy of ${zoneinfoPath(zone)}`);
  const shows = `date shows ${abbrev || '(nothing)'}`;
  return problems.length
    ? result(name, r, 'fail', `${problems.join('; ')}; ${shows}`)
    : result(name, r, 'pass', `${TIMEZONE_PATH} and ${LOCALTIME_PATH} are ${zone}; ${shows}`);
}

const SEP = '@@obsbuild-sep';
export const NTP_CHECK = "NTP daemon is running with the site's servers";

/** The config names every site server and the daemon runs; synchronisation is not required (a lab box may have no route out). */
async function ntpCheck(run: Runner, site: Site | null): Promise<CheckResult> {
  if (!site?.ntp) return result(NTP_CHECK, null, 'skip', site ? 'the site sets no ntp:' : 'no site file');
  const d = ntpFlavour(site.board);
  const r = await run(`grep '^server ' ${d.config}; echo ${SEP}; pidof ${d.process}`);
  const [conf = '', pids = ''] = r.output.split(SEP);
  const named = new Set(conf.split('\n').map((l) => /^server\s+(\S+)/.exec(l.trim())?.[1]).filter((h): h is string => !!h));
  const missing = site.ntp.servers.filter((h) => !named.has(h));
  const pid = pids.trim();
  const problems = [
    ...(missing.length ? [`${d.config} does not name ${missing.join(', ')}`] : []),
    ...(/^\d/.test(pid) ? [] : [`no ${d.process} process`]),
  ];
  return result(
    NTP_CHECK,
    r,
    problems.length ? 'fail' : 'pass',
    problems.length ? problems.join('; ') : `${d.process} pid ${pid}; ${d.config} names ${site.ntp.servers.join(', ')}`,
  );
}

/**
 * The forwarding rules in place for a syslog daemon that is running: rsyslog's own file, or sysklogd's
 * syslog.conf. Whichever runs must hold a rule for every log host with the site's selector and port.
 */
async function syslogCheck(run: Runner, site: Site | null): Promise<CheckResult> {
  if (!site?.syslog) return result("syslog forwards to the site's log hosts", null, 'skip', site ? 'the site sets no syslog:' : 'no site file');
  const s = site.syslog;
  const name = `syslog forwards to ${s.servers.join(', ')}`;
  const daemons: SyslogDaemon[] = ['rsyslog', 'sysklogd'];
  const r = await run(
    `cat ${SYSLOG_DAEMONS.rsyslog.config} 2>/dev/null; echo ${SEP}; grep @ ${SYSLOG_DAEMONS.sysklogd.config} 2>/dev/null; echo ${SEP}; ` +
      daemons.map((d) => `echo ${SYSLOG_DAEMONS[d].process} $(pidof ${SYSLOG_DAEMONS[d].process})`).join('; '),
  );
  const parts = r.output.split(SEP);
  const pidLines = (parts[2] ?? '').split('\n').map((l) => l.trim().split(/\s+/));
  const running = daemons.filter((d) => pidLines.some(([p, pid]) => p === SYSLOG_DAEMONS[d].process && /^\d/.test(pid ?? '')));
  if (!running.length) return result(name, r, 'fail', `no syslog daemon is running (${daemons.map((d) => SYSLOG_DAEMONS[d].process).join(', ')})`);
  const problems: string[] = [];
  for (const d of running) {
    const rules = parseForwardRules(parts[daemons.indexOf(d)] ?? '');
    const port = d === 'sysklogd' ? SYSKLOGD_PORT : s.port;
    const missing = s.servers.filter((h) => !rules.some((x) => x.selector === s.selector && x.host === h && x.port === port));
    if (!missing.length) return result(name, r, 'pass', `${SYSLOG_DAEMONS[d].process} is running; ${SYSLOG_DAEMONS[d].config} forwards ${s.selector} to ${s.servers.map((h) => `${h}:${port}`).join(', ')}`);
    problems.push(`${SYSLOG_DAEMONS[d].process} is running but ${SYSLOG_DAEMONS[d].config} has no rule "${s.selector} @host" for ${missing.join(', ')}`);
  }
  return result(name, r, 'fail', problems.join('; '));
}
