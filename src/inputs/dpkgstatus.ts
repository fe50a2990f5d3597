/**
 * Just enough of dpkg's status file (deb822 stanzas) to say what a root filesystem is: which packages
 * are installed, for which architectures. The full control-file model lives in src/debian.
 */

export interface StatusPackage {
  package: string;
  version?: string;
  architecture?: string;
  status?: string;
}

export function parseStatusSummary(text: string): StatusPackage[] {
  const packages: StatusPackage[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields: Record<string, string> = {};
    for (const line of stanza.split('\n')) {
      if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      fields[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (!fields['package']) continue;
    packages.push({
      package: fields['package'],
      version: fields['version'],
      architecture: fields['architecture'],
      status: fields['status'],
    });
  }
  return packages;
}

/**
 * dpkg keeps stanzas of removed packages ("deinstall ok config-files") and of ones never installed
 * ("purge ok not-installed"); only installed ones count: the status's third word is `installed`.
 */
export function isInstalled(p: StatusPackage): boolean {
  return p.status === undefined || p.status.trim().split(/\s+/)[2] === 'installed';
}
