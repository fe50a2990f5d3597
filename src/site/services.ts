/**
 * The two base services a site may configure besides the balancer, as the box runs them: the board's NTP
 * daemon (a board fact: lenny's ntpd on the OBS600, chrony on the bookworm stand-in) and the syslog daemon of
 * the base system (rsyslog or sysklogd). One table per service, so the renderers, the console's checks and
 * apply's activations agree on paths, process names and init scripts.
 */
import {
  CHRONY_CONF_PATH,
  CHRONY_INIT_PATH,
  NTPD_CONF_PATH,
  NTPD_INIT_PATH,
  RSYSLOG_FORWARD_PATH,
  RSYSLOG_INIT_PATH,
  SYSKLOGD_INIT_PATH,
  SYSLOG_CONF_PATH,
} from '../contracts/box-paths.js';
import { boardFacts } from './board.js';
import type { Board } from './model.js';

export type NtpDialect = 'ntpd' | 'chrony';

export interface ServiceDaemon {
  /** The file obsbuild writes for it. */
  config: string;
  /** Its init script (restart after a config change). */
  init: string;
  /** The process name `pidof` finds. */
  process: string;
}

export const NTP_DAEMONS: Readonly<Record<NtpDialect, ServiceDaemon>> = {
  ntpd: { config: NTPD_CONF_PATH, init: NTPD_INIT_PATH, process: 'ntpd' },
  chrony: { config: CHRONY_CONF_PATH, init: CHRONY_INIT_PATH, process: 'chronyd' },
};

export interface NtpFlavour extends ServiceDaemon {
  dialect: NtpDialect;
  /** The Debian package layered from the mirror. */
  package: string;
}

/** The board's NTP daemon, from board/<board>/board.json. */
export function ntpFlavour(board: Board): NtpFlavour {
  const fact = boardFacts(board).ntp;
  if (!fact || !(fact.dialect in NTP_DAEMONS) || !/^[a-z0-9][a-z0-9+.-]+$/.test(fact.package)) {
    // shipped data, not user input
    throw new Error(`board/${board}/board.json: ntp must be { "package": ..., "dialect": ${Object.keys(NTP_DAEMONS).join(' | ')} }`);
  }
  const dialect = fact.dialect as NtpDialect;
  return { dialect, package: fact.package, ...NTP_DAEMONS[dialect] };
}

export type SyslogDaemon = 'rsyslog' | 'sysklogd';

/** Each syslog daemon by its Debian package name (which is also the name its init script goes by). */
export const SYSLOG_DAEMONS: Readonly<Record<SyslogDaemon, ServiceDaemon>> = {
  rsyslog: { config: RSYSLOG_FORWARD_PATH, init: RSYSLOG_INIT_PATH, process: 'rsyslogd' },
  sysklogd: { config: SYSLOG_CONF_PATH, init: SYSKLOGD_INIT_PATH, process: 'syslogd' },
};

/** sysklogd's `@host` action always sends to the syslog port; it has no syntax for another one. */
export const SYSKLOGD_PORT = 514;

/**
 * One forwarding rule over UDP. rsyslog (3.18 and later) reads `@host:port`; sysklogd only `@host`.
 * A tab between selector and action: sysklogd 1.5 accepts blanks, older ones only tabs.
 */
export function forwardRule(daemon: SyslogDaemon, selector: string, host: string, port: number): string {
  return `${selector}\t@${host}${daemon === 'rsyslog' ? `:${port}` : ''}`;
}

export interface ForwardRule {
  selector: string;
  host: string;
  port: number;
}

/** More lines than a syslog configuration has; the box's output is not trusted to be small. */
const MAX_RULE_LINES = 10_000;

/** The UDP forwarding rules (`selector @host[:port]`) of a syslog configuration; comments and other lines ignored. */
export function parseForwardRules(text: string): ForwardRule[] {
  const out: ForwardRule[] = [];
  for (const raw of text.split('\n').slice(0, MAX_RULE_LINES)) {
    const m = /^\s*([^\s#]+)\s+@([A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?\s*$/.exec(raw);
    if (!m) continue;
    out.push({ selector: m[1], host: m[2], port: m[3] === undefined ? SYSKLOGD_PORT : Number(m[3]) });
  }
  return out;
}
