/**
 * The NTP daemon's configuration from the site's `ntp:` servers, in the board's dialect (src/site/services.ts):
 * lenny's ntpd 4.2.4 (/etc/ntp.conf) or chrony (the bookworm stand-in). The box is a client only: it serves
 * time to nobody and answers no queries.
 */
import type { Site } from '../site/model.js';
import type { NtpDialect } from '../site/services.js';

/** What reaches a config line: a host name or dotted address only (the schema allows no more; checked again here). */
const PLAIN_HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

export function checkedHosts(servers: readonly string[], what: string): string[] {
  for (const s of servers) if (!PLAIN_HOST.test(s)) throw new Error(`${what}: ${JSON.stringify(s.slice(0, 80))} is not a host name`);
  return [...servers];
}

export function renderNtpConf(ntp: NonNullable<Site['ntp']>, dialect: NtpDialect): string {
  const servers = checkedHosts(ntp.servers, 'ntp.servers');
  const head = '# Written by obsbuild from the site file (ntp:); obsbuild verify compares it and obsbuild apply rewrites it.\n';
  const serverLines = servers.map((s) => `server ${s} iburst\n`).join('');
  if (dialect === 'chrony') {
    return (
      head +
      '\n' +
      serverLines +
      '\ndriftfile /var/lib/chrony/chrony.drift\n' +
      '# Step the clock at start-up when it is far off (the box has no battery-backed time source to trust).\n' +
      'makestep 1 3\n' +
      '# No "allow" line: chronyd serves time to nobody; its command port stays on localhost.\n'
    );
  }
  // ntpd 4.2.4 syntax, as lenny's own /etc/ntp.conf writes it. Without the restrict lines lenny's ntpd
  // answers mode 7 monlist queries from anyone, an amplifier; `disable monitor` drops the list altogether.
  return (
    head +
    '\ndriftfile /var/lib/ntp/ntp.drift\n' +
    '\nrestrict -4 default kod notrap nomodify nopeer noquery\n' +
    'restrict -6 default kod notrap nomodify nopeer noquery\n' +
    'restrict 127.0.0.1\n' +
    'restrict ::1\n' +
    'disable monitor\n' +
    '\n' +
    serverLines
  );
}
