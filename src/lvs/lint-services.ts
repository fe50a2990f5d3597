/**
 * The NTP and syslog servers of a site: a host name needs a name server on the box, which resolves it when
 * the daemon starts (ntpd and rsyslog skip a name they cannot resolve and carry on without it).
 */
import type { Site } from '../site/model.js';
import { isIpv4 } from '../site/ipv4.js';
import type { Report } from './lint-report.js';

export function checkServiceHosts(site: Site, report: Report): void {
  if (site.network.nameservers.length) return;
  const lists: [key: 'ntp' | 'syslog', servers: readonly string[]][] = [
    ['ntp', site.ntp?.servers ?? []],
    ['syslog', site.syslog?.servers ?? []],
  ];
  for (const [key, servers] of lists) {
    servers.forEach((host, k) => {
      if (isIpv4(host)) return;
      const why = `${key} server ${host} is a host name but network.nameservers is empty, so the box cannot resolve it: give its IPv4 address or list a name server`;
      report('warning', 'service-host-name', [key, 'servers', k], why);
    });
  }
}
