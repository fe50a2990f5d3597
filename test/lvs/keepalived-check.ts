/**
 * Runs keepalived 2.x's own parser on a configuration: `keepalived -t -f FILE` inside an unprivileged
 * user+network namespace (`unshare -rn`) that has veth interfaces named like the ones the configuration
 * uses (docs/reference/keepalived-lenny.md §6). No root, no real interfaces, no traffic.
 */
import { execa } from 'execa';
import { access, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';

export const KEEPALIVED = '/usr/sbin/keepalived';

export async function keepalivedInstalled(): Promise<boolean> {
  return access(KEEPALIVED).then(
    () => true,
    () => false,
  );
}

/** Interface names the configuration refers to (`interface X`, `dev X`), always including eth0. */
export function interfacesNamedIn(conf: string): string[] {
  const names = new Set<string>(['eth0']);
  for (const m of conf.matchAll(/(?:^\s*interface|\bdev)\s+([a-z][a-z0-9]*)/gm)) names.add(m[1]);
  return [...names].sort();
}

export interface ConfigTestResult {
  exitCode: number;
  output: string;
}

/** `interfaces`: the veth interfaces to create in the namespace (see interfacesNamedIn). */
export async function keepalivedConfigTest(file: string, interfaces: string[]): Promise<ConfigTestResult> {
  // keepalived -t exits 0 for a missing or empty file, so check that first.
  if (!isAbsolute(file)) throw new Error(`keepalived -t needs an absolute path, got ${file}`);
  if ((await stat(file)).size === 0) throw new Error(`${file} is empty`);
  const names = interfaces;
  const setup: string[] = [];
  for (let i = 0; i < names.length; i += 2) {
    const peer = names[i + 1] ?? `obspad${i}`;
    setup.push(`ip link add ${names[i]} type veth peer name ${peer}`, `ip link set ${names[i]} up`, `ip link set ${peer} up`);
  }
  const script = `set -e; ${setup.join('; ')}; set +e; ${KEEPALIVED} -t -f "$1"`;
  const r = await execa('unshare', ['-rn', 'sh', '-c', script, 'sh', file], { reject: false, all: true, timeout: 30_000 });
  return { exitCode: r.exitCode ?? -1, output: String(r.all ?? '') };
}
