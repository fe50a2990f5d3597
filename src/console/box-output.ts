/**
 * Readings of the box: what `ip -o -4 addr show` and `ipvsadm -L -n` print, as data. The console's checks,
 * the virtual board's traffic test and day-two verification read the box through these, so the formats
 * are known in one place.
 */

export interface AddressLine {
  dev: string;
  address: string;
  label: string;
}

/** `ip -o -4 addr show` lines → device, address/prefix, label (eth0:120 for an alias). */
export function parseIpAddr(output: string): AddressLine[] {
  const out: AddressLine[] = [];
  for (const line of output.split('\n')) {
    const m = /^\d+:\s+([^\s@]+)(?:@\S+)?\s+inet\s+(\d+\.\d+\.\d+\.\d+\/\d+)(.*)$/.exec(line.trim());
    if (!m) continue;
    const label = /scope \S+ (?:secondary )?(?:dynamic )?(\S+)/.exec(m[3])?.[1] ?? m[1];
    out.push({ dev: m[1], address: m[2], label: label.replace(/\\$/, '') });
  }
  return out;
}

export interface IpvsService {
  protocol: string;
  address: string;
  port: number;
  scheduler: string;
  persistent: number | null;
  reals: { address: string; port: number; forward: string; weight: number }[];
}

/** `ipvsadm -L -n` → services with their real servers. */
export function parseIpvsadm(output: string): IpvsService[] {
  const services: IpvsService[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trimEnd();
    const svc = /^(TCP|UDP)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)(?:.*\bpersistent (\d+))?/.exec(line);
    if (svc) {
      services.push({ protocol: svc[1].toLowerCase(), address: svc[2], port: +svc[3], scheduler: svc[4], persistent: svc[5] ? +svc[5] : null, reals: [] });
      continue;
    }
    const rs = /^\s+->\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)\s+(\d+)/.exec(line);
    if (rs && services.length) services[services.length - 1].reals.push({ address: rs[1], port: +rs[2], forward: rs[3], weight: +rs[4] });
  }
  return services;
}

export interface IpvsServiceStats {
  protocol: string;
  address: string;
  port: number;
  connections: number;
  inPackets: number;
  outPackets: number;
}

/** `ipvsadm -L -n --stats --exact` → each service's connection and packet counters. */
export function parseIpvsadmStats(output: string): IpvsServiceStats[] {
  const out: IpvsServiceStats[] = [];
  for (const line of output.split('\n')) {
    const m = /^(TCP|UDP)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (m) out.push({ protocol: m[1].toLowerCase(), address: m[2], port: +m[3], connections: +m[4], inPackets: +m[5], outPackets: +m[6] });
  }
  return out;
}
